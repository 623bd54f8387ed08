"""Configurable clinical and validation defaults of the case workflow.

Every number's source is in docs/clinical-defaults.md. procsuite supports clinicians; these
numbers drive warnings and plausibility checks, they do not make clinical decisions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkflowPolicy:
    # PMMA bone cement for vertebral augmentation is workable for roughly 10-20 minutes
    # after mixing, depending on the product and room temperature (product IFUs).
    cement_working_time_s: float = 20 * 60
    # Single- or two-level vertebral augmentation usually takes under an hour.
    procedure_overrun_s: float = 60 * 60
    # Outcomes are best for fractures treated within about eight weeks (SIR / CIRSE guidance).
    fracture_max_age_days: int = 8 * 7
    # Minimum time with stable vitals in recovery before discharge (local sedation policy).
    recovery_stable_vitals_s: float = 60 * 60
    # Plausibility limits: values outside are typing errors, not clinical findings.
    max_cement_volume_ml: float = 20.0
    max_balloon_pressure_psi: float = 700.0  # inflatable bone tamps are rated to 700 psi
    max_balloon_volume_ml: float = 6.0
    max_local_anesthetic_ml: float = 60.0
    inr_range: tuple[float, float] = (0.5, 15.0)
    platelets_range_10e9_per_l: tuple[float, float] = (1.0, 2000.0)
    # How far ahead of the service clock a logged step may be (clock skew between terminals).
    future_tolerance_s: float = 120.0
    # The imaging check needs an image received after the last cement injection.
    imaging_check_requires_image: bool = True


DEFAULT_POLICY = WorkflowPolicy()
