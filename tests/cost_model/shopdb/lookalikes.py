"""Objects with the same method names that are not IO: a settings mapping, a query plan, a buffer."""


def timeout_of(settings):
    return settings.get("timeout", 30)


def run_plan(plan, rows):
    """A query plan over rows already in memory: execute() is evaluation, nothing waits."""
    plan.compile()
    return plan.execute(rows)


def render(buf, lines):
    for line in lines:
        buf.write(line.upper())
    return buf


def next_task(tasks):
    """A list of pending tasks used as a stack; get() here is the project's own accessor."""
    return tasks.get()
