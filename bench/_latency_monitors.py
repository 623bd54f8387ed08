"""Simulated monitors for bench/alarm_latency.py, run as their own process:
`python -m bench._latency_monitors PORT ROOT ROOMS PER_ROOM RATE_HZ SECONDS OUT.jsonl`.

Every monitor publishes all eight parameters at RATE_HZ with QoS 1 (paho), spread evenly in
time. In each room one monitor at a time desaturates (SpO2 85 % for 2.5 s, then 97 %), one
episode every 5 s per room, rooms staggered. For every episode the time the sample that
completes the 2 s condition delay (on device time, as the engine measures it) was handed to
the client is written to OUT as a JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import paho.mqtt.client as paho

DELAY_S = 2.0
LOW_S = 2.5
EPISODE_EVERY_S = 5.0


def main(argv: list[str]) -> None:
    port, root, rooms, per_room, rate_hz, seconds, out = (
        int(argv[0]), argv[1], int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5]), argv[6],
    )  # fmt: skip
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="latency-monitors")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    monitors = [(r, j) for r in range(rooms) for j in range(per_room)]
    first_low: dict[tuple[int, int], float] = {}
    done: set[tuple[int, int, int]] = set()
    records = []
    slot_s = 1.0 / rate_hz / len(monitors)  # one message per slot, round robin
    start = time.time() + 0.5
    n = 0
    while True:
        now = time.time()
        due = start + n * slot_s
        if due - start > seconds:
            break
        if due > now:
            time.sleep(due - now)
        r, j = monitors[n % len(monitors)]
        n += 1
        t = time.time()
        ts = round(t, 3)  # the payload carries milliseconds; the engine sees exactly this
        into = t - start - r * 0.2  # rooms staggered by 200 ms
        episode = int(into // EPISODE_EVERY_S) if into >= 0 else -1
        low = episode >= 0 and episode % per_room == j and into - episode * EPISODE_EVERY_S < LOW_S
        key = (r, j)
        spo2 = 85 if low else 97
        completes = False
        if low:
            since = first_low.setdefault(key, ts)
            if ts - since >= DELAY_S and (r, j, episode) not in done:
                done.add((r, j, episode))
                completes = True
        else:
            first_low.pop(key, None)
        at = (
            datetime.fromtimestamp(ts, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        payload = json.dumps({
            "ts": at, "seq": n,
            "values": {"hr": 72, "spo2": spo2, "nibp_sys": 121, "nibp_dia": 78, "nibp_map": 92,
                       "rr": 14, "etco2": 36, "temp": 36.6},
        })  # fmt: skip
        sent = time.time()
        client.publish(f"{root}/rooms/R{r}/vitals/mon-{r}-{j}", payload, qos=1)
        if completes:
            records.append({"room": f"R{r}", "episode": episode, "published": sent})
    client.loop_stop()
    client.disconnect()
    with open(out, "w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    print(json.dumps({"messages": n, "episodes": len(records)}))


if __name__ == "__main__":
    main(sys.argv[1:])
