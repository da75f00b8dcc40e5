"""One member of the mixed-language test (MixedClientsTests): joins GROUP, waits for a view of
MEMBERS members, sends COUNT agreed messages "<name>-<i>", prints every member list of the group's
regular views ("VIEW a,b,c") and every message ("MSG sender text") until it has MEMBERS * COUNT."""
import sys

import chorus.blocking

address, name, group, members, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with chorus.blocking.connect(address, name=name) as session:
    session.join(group)
    sent = False
    received = 0
    while received < members * count:
        event = session.receive(timeout=20)
        if isinstance(event, chorus.Membership) and event.group == group and event.kind == chorus.ViewKind.REGULAR:
            print("VIEW " + ",".join(event.members), flush=True)
            if not sent and len(event.members) == members:
                for index in range(count):
                    session.multicast(group, f"{name}-{index}")
                sent = True
        elif isinstance(event, chorus.Message):
            received += 1
            print(f"MSG {event.sender} {event.text}", flush=True)
