"""The site's sedation drug list offered by the dashboard's sedation form: drug and unit.

Not a clinical number: which drugs a site stocks for procedural sedation. The doses stay
typed by the person who gives them (the domain checks them, suite/domain/workflow.py).
"""

from __future__ import annotations

# (drug, unit): the usual agents of moderate sedation for vertebral augmentation
# (docs/clinical-defaults.md "Sedation drug list").
DEFAULT_SEDATION_DRUGS: tuple[tuple[str, str], ...] = (
    ("midazolam", "mg"),
    ("fentanyl", "mcg"),
    ("remifentanil", "mcg"),
    ("propofol", "mg"),
    ("ketamine", "mg"),
    ("dexmedetomidine", "mcg"),
)

# Local anaesthetics offered by the "local" step's form (drug and strength, as logged).
DEFAULT_LOCAL_ANESTHETICS: tuple[str, ...] = (
    "lidocaine 1%",
    "lidocaine 2%",
    "bupivacaine 0.25%",
    "bupivacaine 0.5%",
    "ropivacaine 0.2%",
)
