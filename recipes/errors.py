"""Error messages as one line (used by the stages and by the CLI boundary)."""


def one_line(error: BaseException) -> str:
    """An exception as one line: the whole message (Lhotse puts the reason on the lines
    after the first), without the ``[extra info] When calling: ...`` dump of the whole cut
    that Lhotse appends."""
    text = str(error).split("[extra info]", 1)[0]
    return " ".join(text.split()) or type(error).__name__
