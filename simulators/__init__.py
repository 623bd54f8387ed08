"""Simulated devices and hospital systems speaking procsuite's public wire contracts.

- monitor: a bedside monitor on MQTT (monitor.py runner; monitor_model.py, physiology.py,
  scenarios.py: the pure model and its scenarios);
- modality: a fluoroscopy C-arm on DICOM (modality.py SCU, fluoro_session.py a whole
  procedure; worklist.py, dicom_objects.py, rdsr.py, fluoro_dose.py, xray_pixels.py);
- HIS: a hospital information system on HL7 v2 / MLLP (his.py sender, his_receiver.py
  receiver; hl7_messages.py, day_list.py);
- the team at their terminals: case_script.py drives a whole case through the MQTT command
  channel (case_plan.py the steps, mqtt_commands.py the user's connection), nurse.py
  acknowledges alarms; fluoro_room.py and patient_events.py make the modality and the
  patient act at the case's steps;
- clock.py: simulated time shared by all of them; cli*.py: `procsuite simulate ...`;
- the demo (demo.py, demo_day.py, demo_report.py, demo_cli.py): `procsuite demo`, the
  service and a whole simulated suite day in one process.

They import nothing from adapters/ or suite/store: a real device can replace any of them
(the demo alone also runs the service itself, through procsuite.bootstrap).
"""
