"""PLACEHOLDER: being written."""
class WeightedSplineFunction: pass
def weighted_spline(x, y, **kw): raise NotImplementedError
