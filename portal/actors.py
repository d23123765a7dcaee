"""Who acted, as history and audit rows record it."""


def recorded_actor(actor):
    """The signed-in user to record as the actor, or None: tasks, commands and the system act
    as nobody, and an anonymous user is not a row that can be referenced."""
    return actor if actor is not None and actor.is_authenticated else None
