"""Text rendering of an episode: who, the last slate with its feedback, and the current profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lusifer.envs.core import RecommenderCore, Session


def render_text(core: RecommenderCore, session: Session) -> str:
    """A few lines describing ``session`` after its last step (or its start)."""
    user = session.user
    last = session.last
    lines = [f"user {user.user_id} · step {session.steps} · session {session.session + 1}"]
    if last:
        feedback, chosen = last["feedback"], last.get("chosen")
        for item_id in last["slate"]:
            title = core.catalogue.texts[item_id].title
            if item_id in feedback:
                mark = f"rated {feedback[item_id]}" + (" (chosen)" if item_id == chosen else "")
            elif item_id in last["failures"]:
                mark = "no rating"
            else:
                mark = "already seen"
            lines.append(f"  {title} — {mark}")
        lines.append(f"reward {last['reward']:.2f}" + (" · the user left" if last.get("left") else ""))
        if last.get("leave_reason"):
            lines.append(f"the user says: {last['leave_reason']}")
    explanation = user.profiles[-1].explanation if user.profiles else "no profile yet"
    lines.append(f"profile: {explanation}")
    return "\n".join(lines)
