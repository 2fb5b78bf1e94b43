"""Error messages as one line (used by the stages and by the CLI boundary)."""


def first_items(items, limit: int = 5) -> str:
    """The first ``limit`` items, comma-separated, then `` ...`` when there are more (for
    one-line messages that name a few ids; the full list goes to a report or rejects file)."""
    items = list(items)
    return ", ".join(map(str, items[:limit])) + (" ..." if len(items) > limit else "")


def one_line(error: BaseException) -> str:
    """An exception as one line: the whole message (Lhotse puts the reason on the lines
    after the first), without the ``[extra info] When calling: ...`` dump of the whole cut
    that Lhotse appends."""
    text = str(error).split("[extra info]", 1)[0]
    return " ".join(text.split()) or type(error).__name__
