"""PLACEHOLDER: being written."""
class KinkDensity: pass
def kink_density(law, **params): raise NotImplementedError
