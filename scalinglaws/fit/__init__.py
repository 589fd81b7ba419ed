"""Fits of learning curves: functional forms, robust multi-start fits, bootstrap intervals, windows."""

from ._across import (
    Frontier as Frontier,
    LawFit as LawFit,
    cell_statistic as cell_statistic,
    compute_frontier as compute_frontier,
    fit_against as fit_against,
    fit_joint as fit_joint,
    parse_statistic as parse_statistic,
)
from ._fit import Fit as Fit, FitError as FitError, fit_curve as fit_curve, student_t_quantile as student_t_quantile
from ._forms import (
    BREAK_SHARPNESS as BREAK_SHARPNESS,
    FORMS as FORMS,
    JOINT_POWER_LAW as JOINT_POWER_LAW,
    Form as Form,
    form_from_name as form_from_name,
)
from ._run import (
    MIN_DECADES as MIN_DECADES,
    MIN_EXPONENT as MIN_EXPONENT,
    fit_run as fit_run,
    sliding_exponent as sliding_exponent,
    steady_window as steady_window,
)
from ._theory import TheoryFit as TheoryFit, fit_theory as fit_theory
