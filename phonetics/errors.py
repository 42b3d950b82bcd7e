"""The one error type phonetics raises for bad input; its message is one line that says what to change."""


class PhoneticsError(ValueError):
    pass
