"""HL7 v2 over MLLP: patients and orders in (ADT, ORM, OMI, SIU), status and results out.

Codec, pure and synchronous: `wire` (bytes, MSH-18, escapes), `fields` (reading python-hl7
trees, HL7 data types), `header` and `parse` (-> `messages`), `ack`, `mapping` and `orders` (-> domain
commands), `outbound` (ORM / ORU built with hl7apy). Runners: `listener` (MLLP server with
`suite/mllp.py` framing) and `sender` (delivers the outbox). Between them and the store: `inbound` (one
message in, its ACK out), `journal` (message rows in the same transaction as their effect,
repeats), `registry` (patients from ADT), `case_index`, `outbox` (queued in the case
events' transaction). `component` wires it into the service; `cli` is `procsuite hl7`.
Interface specification: docs/hl7-interface.md.
"""
