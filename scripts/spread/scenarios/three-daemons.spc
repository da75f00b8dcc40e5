# daemons: 3
# three-daemons.spc -- three daemons (needs D1_ADDR D2_ADDR D3_ADDR D3_PID): members on different
# daemons, agreed and safe messages, a leave (and rejoin), a disconnect, then daemon d3 is killed
# (SIGKILL): the survivors get a transitional then a regular membership caused by the network.
# --- alice (d1) and bob (d2) join g
@alice connect ${D1_ADDR} alice
@bob connect ${D2_ADDR} bob
@alice join g
@alice recvn 1
@bob join g
@bob recvn 1
@alice recvn 1
# --- agreed and safe messages from both (one at a time, so that the transcript is deterministic),
# then a burst of 20 agreed from alice and 5 safe from bob
@alice send agreed g type=1 text=a1
@alice recvn 1
@bob recvn 1
@bob send safe g type=2 text=b1
@alice recvn 1
@bob recvn 1
@alice send safe g type=3 text=a2
@alice recvn 1
@bob recvn 1
@bob send agreed g type=4 text=b2
@alice recvn 1
@bob recvn 1
@alice send agreed g type=5 text=a%n count=20
@alice recvn 20 10000
@bob recvn 20 10000
@bob send safe g type=6 text=b%n count=5
@alice recvn 5 10000
@bob recvn 5 10000
# --- carol (d3) and dave (d2) join
@carol connect ${D3_ADDR} carol
@carol join g
@carol recvn 1
@alice recvn 1
@bob recvn 1
@dave connect ${D2_ADDR} dave
@dave join g
@dave recvn 1
@alice recvn 1
@bob recvn 1
@carol recvn 1
# --- bob leaves: bob gets the self-leave notification, the others a LEAVE membership
@bob leave g
@bob recvn 1
@alice recvn 1
@carol recvn 1
@dave recvn 1
# --- dave disconnects: the others get a DISCONNECT membership
@dave disconnect
@alice recvn 1
@carol recvn 1
# --- bob joins again
@bob join g
@bob recvn 1
@alice recvn 1
@carol recvn 1
@carol send safe g text=from-carol
@alice recvn 1
@bob recvn 1
@carol recvn 1
# --- d3 (carol's daemon) is killed: alice and bob get TRANS then REG/NETWORK; carol's session dies
sh kill -KILL ${D3_PID}
@alice recvn 2 30000
@bob recvn 2 30000
@carol recv 30000
@carol recv 0
@carol disconnect
@alice send safe g text=after-crash
@alice recvn 1
@bob recvn 1
@alice drain 500
@bob drain 500
@alice disconnect
@bob recvn 1
@bob disconnect
