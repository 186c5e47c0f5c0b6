"""The input error every layer shares: one message per field ("" for the whole form)."""


class FormError(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors
