"""The DICOM adapter: procsuite as the procedure room's DICOM partner (pynetdicom).

One listening Application Entity with Verification, Storage, Modality Worklist and MPPS
SCP roles, and a Storage SCU that forwards every stored instance to the PACS. Pure codecs
(`instance`, `rdsr`, `mpps`, `worklist`, `matching`) turn datasets into plain facts; the
runner (`server`, `intake`, `linker`, `forward`) does the I/O. See docs/dicom-conformance.md.
"""
