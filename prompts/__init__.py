"""Built-in jinja2 prompt templates, one folder per domain (shipped in the wheel as `lusifer.prompts`)."""
