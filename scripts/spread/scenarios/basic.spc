# daemons: 1
# basic.spc -- one daemon (needs D1_ADDR, D1_UNIX): connect results, every service, message
# types, multi-group sends, payload sizes, join/leave corner cases, self-leave, disconnect and kill
# as another member sees them. Run: spclient --echo < basic.spc (golden.sh does, with the env set).
version
# --- connect: no daemon there, a malformed address, names
@x connect 48199@127.0.0.1 x
@x connect nonsense x
@x connect ${D1_ADDR} "bad name"
@x connect ${D1_ADDR} "#x"
@x connect ${D1_ADDR} abcdefghijklmnop
@x disconnect
@anon connect ${D1_ADDR} -
@anon disconnect
# --- alice over TCP, bob over the Unix socket, carol without membership messages
@alice connect ${D1_ADDR} alice
@bob connect ${D1_UNIX} bob
@dup connect ${D1_ADDR} alice
@carol connect ${D1_ADDR} carol nomemb prio=1
@alice join g
@alice recvn 1
@bob join g
@bob recvn 1
@alice recvn 1
@carol join g
@alice recvn 1
@bob recvn 1
@carol drain 300
# --- each service, each with its own message type
@alice send unreliable g type=1 text=u
@alice send reliable g type=2 text=r
@alice send fifo g type=3 text=f
@alice send causal g type=4 text=c
@alice send agreed g type=5 text=a
@alice send safe g type=6 text=s
@bob recvn 6
@carol recvn 6
@alice recvn 6
# --- self discard: everyone but the sender
@alice send agreed+selfdiscard g text=sd
@alice send safe|selfdiscard g text=sd2
@bob recvn 2
@alice drain 300
# --- message types are 16 bits, returned as int16
@alice send agreed g type=32767 text=t1
@alice send agreed g type=65535 text=t2
@alice send agreed g type=-32768 text=t3
@alice send agreed g type=65536 text=t4
@bob recvn 4
@alice drain 300
@carol drain 300
# --- several groups: one copy per member, listing every destination group
@alice join h
@alice recvn 1
@bob send agreed g,h text=gh
@alice recvn 1
@bob recvn 1
@carol recvn 1
@bob send agreed nobody-here text=x
@bob send agreed h text=to-h-only
@alice recvn 1
@alice drain 300
@bob drain 300
# Spread 4.4.0 delivers a multicast to 43 groups, but silently drops one to 44..100 groups (no
# error, no reject: the 48-byte header plus 32 bytes per group no longer fit in the first packet)
@bob send agreed g,h,e3,e4,e5,e6,e7,e8,e9,e10,e11,e12,e13,e14,e15,e16,e17,e18,e19,e20,e21,e22,e23,e24,e25,e26,e27,e28,e29,e30,e31,e32,e33,e34,e35,e36,e37,e38,e39,e40,e41,e42,e43 text=to-43-groups
@alice recvn 1
@bob recvn 1
@carol recvn 1
@bob send agreed g,h,e3,e4,e5,e6,e7,e8,e9,e10,e11,e12,e13,e14,e15,e16,e17,e18,e19,e20,e21,e22,e23,e24,e25,e26,e27,e28,e29,e30,e31,e32,e33,e34,e35,e36,e37,e38,e39,e40,e41,e42,e43,e44 text=to-44-groups
@bob send agreed g,h,e3,e4,e5,e6,e7,e8,e9,e10,e11,e12,e13,e14,e15,e16,e17,e18,e19,e20,e21,e22,e23,e24,e25,e26,e27,e28,e29,e30,e31,e32,e33,e34,e35,e36,e37,e38,e39,e40,e41,e42,e43,e44,e45,e46,e47,e48,e49,e50,e51,e52,e53,e54,e55,e56,e57,e58,e59,e60,e61,e62,e63,e64,e65,e66,e67,e68,e69,e70,e71,e72,e73,e74,e75,e76,e77,e78,e79,e80,e81,e82,e83,e84,e85,e86,e87,e88,e89,e90,e91,e92,e93,e94,e95,e96,e97,e98,e99,e100 text=to-100-groups
@alice drain 300
@bob drain 300
@carol drain 300
# --- payloads: binary, patterned, large. The largest the 4.4.0 daemon survives: data + 32 per group
# = 143152 bytes (48-byte header included: 100 fragments of 1432). Above that up to 143952 the daemon
# ABORTS (assertion in Message_add_scat_element: not run here); above 143952 it closes the session
# (see the end); libspread refuses above 144000 (MESSAGE_TOO_LONG).
@alice send agreed g hex=00ff7f80
@alice send agreed g size=1000
@alice send agreed g size=1000 pattern=abc
@alice send agreed g size=100000
@alice send agreed g size=143120
@alice send agreed g,h size=143088
@alice send agreed g size=143969
@bob recvn 6
@alice recvn 6
@carol drain 300
# --- joining twice, leaving a group one is not in
@bob join g
@bob drain 300
@alice drain 300
@bob leave nosuchgroup
@bob drain 300
# --- leave: the leaver gets the self-leave notification, the others a LEAVE membership
@bob leave g
@bob recvn 1
@alice recvn 1
@carol drain 300
# --- a non-member can still send to the group (open groups)
@bob send agreed g text=from-outside
@alice recvn 1
@bob drain 300
@carol recvn 1
# --- disconnect of a member
@bob join g
@bob recvn 1
@alice recvn 1
@bob disconnect
@alice recvn 1
# --- kill: the socket closed without the disconnect request (carol, no membership messages)
@carol kill
@alice recvn 1
# --- alice leaves both groups and goes
@alice leave g
@alice leave h
@alice recvn 2
@alice drain 300
@alice disconnect
# --- what the daemon does with a message libspread lets through but the daemon refuses: it closes
# the session (the other members see a DISCONNECT membership). The sender learns it on the send
# itself (CONNECTION_CLOSED) or on its next receive, depending on timing: those lines are marked "?"
@alice connect ${D1_ADDR} alice
@alice join g
@alice recvn 1
@big connect ${D1_ADDR} big
@big join g
@big recvn 1
@alice recvn 1
? @big send agreed g size=143921
@alice recvn 1
? @big recv 1000
@big send agreed g text=after
@big disconnect
@many connect ${D1_ADDR} many
@many join g
@many recvn 1
@alice recvn 1
? @many send agreed g,h,e3,e4,e5,e6,e7,e8,e9,e10,e11,e12,e13,e14,e15,e16,e17,e18,e19,e20,e21,e22,e23,e24,e25,e26,e27,e28,e29,e30,e31,e32,e33,e34,e35,e36,e37,e38,e39,e40,e41,e42,e43,e44,e45,e46,e47,e48,e49,e50,e51,e52,e53,e54,e55,e56,e57,e58,e59,e60,e61,e62,e63,e64,e65,e66,e67,e68,e69,e70,e71,e72,e73,e74,e75,e76,e77,e78,e79,e80,e81,e82,e83,e84,e85,e86,e87,e88,e89,e90,e91,e92,e93,e94,e95,e96,e97,e98,e99,e100,e101 text=to-101-groups
@alice recvn 1
? @many recv 1000
@many send agreed g text=after
@many disconnect
@alice drain 300
@alice disconnect
