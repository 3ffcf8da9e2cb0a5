"""Built-in domain implementations (the contract is :mod:`lusifer.api.domain`)."""
