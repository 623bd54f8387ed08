"""The dashboard's screens: board, case, vitals and alarms, integration, and the forms."""
