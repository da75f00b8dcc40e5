# daemons: 3
# partition.spc -- three daemons (needs D1_ADDR D2_ADDR D3_ADDR D3_PID): daemon d3 is stopped
# (SIGSTOP) long enough for d1 and d2 to form a membership without it, then continued (SIGCONT) and
# merges back: what each side sees, with the vs sets of the merge.
@alice connect ${D1_ADDR} alice
@bob connect ${D2_ADDR} bob
@carol connect ${D3_ADDR} carol
@alice join g
@alice recvn 1
@bob join g
@bob recvn 1
@alice recvn 1
@carol join g
@carol recvn 1
@alice recvn 1
@bob recvn 1
# --- d3 stops: alice and bob get TRANS then REG/NETWORK without carol
sh kill -STOP ${D3_PID}
@alice recvn 2 30000
@bob recvn 2 30000
# a message inside the d1+d2 membership
@alice send agreed g text=while-d3-is-away
@alice recvn 1
@bob recvn 1
# --- d3 continues and merges back
sh kill -CONT ${D3_PID}
@carol recvn 2 30000
@alice recvn 1 30000
@bob recvn 1 30000
@alice drain 1500
@bob drain 1500
@carol drain 1500
# --- one message from each after the merge (one at a time)
@alice send agreed g text=a-after
@alice recvn 1
@bob recvn 1
@carol recvn 1
@bob send safe g text=b-after
@alice recvn 1
@bob recvn 1
@carol recvn 1
@carol send agreed g text=c-after
@alice recvn 1
@bob recvn 1
@carol recvn 1
@alice disconnect
@bob recvn 1
@carol recvn 1
@bob disconnect
@carol recvn 1
@carol disconnect
