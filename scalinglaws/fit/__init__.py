"""Fits of learning curves: functional forms, robust multi-start fits, bootstrap intervals, windows."""

from ._fit import (
    Fit as Fit,
    FitError as FitError,
    fit_curve as fit_curve,
    fit_run as fit_run,
    sliding_exponent as sliding_exponent,
    steady_window as steady_window,
    student_t_quantile as student_t_quantile,
)
from ._forms import BREAK_SHARPNESS as BREAK_SHARPNESS, FORMS as FORMS, Form as Form, form_from_name as form_from_name
from ._theory import TheoryFit as TheoryFit, fit_theory as fit_theory
