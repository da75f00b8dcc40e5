// SpJClient: a scriptable test client for Spread 4.4.0's own Java library (the package `spread`,
// compiled from Spread's source tarball by scripts/spread/build-java.sh), the Java counterpart of
// spclient.c. It reads the same command language (scenarios/*.spc syntax: sessions with @LABEL,
// ${VAR}, "?" lines, connect/join/leave/send/recv/recvn/drain/disconnect/sleep/echo/sh/...) and
// prints one line per result or event in the same style, with what the Java API exposes: for
// membership messages MembershipInfo's getters (getGroupID, getMembers, getJoined, getLeft,
// getDisconnected, getStayed, getVirtualSynchronySets, getMyVirtualSynchronySet).
//
//   java -jar .build-spread/java/spjclient.jar [--echo] [--ts] [--show N] [--exit-on-error] [COMMAND...] [-]
//
// See scripts/spread/README.md ("SpJClient") for the commands and the output format.

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import spread.MembershipInfo;
import spread.SpreadConnection;
import spread.SpreadGroup;
import spread.SpreadMessage;

public final class SpJClient {
    // The service bits of Spread 4 (sp.h; SpreadMessage keeps its constants protected).
    static final int UNRELIABLE = 0x1, RELIABLE = 0x2, FIFO = 0x4, CAUSAL = 0x8, AGREED = 0x10, SAFE = 0x20,
            SELF_DISCARD = 0x40, REG_MEMB = 0x1000, TRANSITION = 0x2000, CAUSED_BY_JOIN = 0x100,
            CAUSED_BY_LEAVE = 0x200, CAUSED_BY_DISCONNECT = 0x400, CAUSED_BY_NETWORK = 0x800,
            REJECT = 0x400000, DROP_RECV = 0x1000000;
    static final String[] SERVICE_NAMES = {"UNRELIABLE", "RELIABLE", "FIFO", "CAUSAL", "AGREED", "SAFE",
            "SELF_DISCARD", "REG_MEMB", "TRANSITION", "CAUSED_BY_JOIN", "CAUSED_BY_LEAVE",
            "CAUSED_BY_DISCONNECT", "CAUSED_BY_NETWORK", "REJECT", "DROP_RECV"};
    static final int[] SERVICE_BITS = {UNRELIABLE, RELIABLE, FIFO, CAUSAL, AGREED, SAFE, SELF_DISCARD, REG_MEMB,
            TRANSITION, CAUSED_BY_JOIN, CAUSED_BY_LEAVE, CAUSED_BY_DISCONNECT, CAUSED_BY_NETWORK, REJECT, DROP_RECV};

    // ------------------------------------------------------------------ output

    static PrintStream out; // the real stdout; System.out is pointed at stderr (the library prints there)
    static boolean optEcho, optTs, optExitOnError, anyError, racy;
    static int optShow = 64;
    static final long T0 = System.nanoTime();

    /** A line being built: "KIND k=v k=v". */
    static final class Line {
        final StringBuilder b = new StringBuilder();

        Line(String kind) {
            if (racy) b.append('?');
            b.append(kind);
            if (optTs) b.append(" t=").append((System.nanoTime() - T0) / 1_000_000);
        }

        Line add(String raw) {
            b.append(raw);
            return this;
        }

        Line kv(String key, Object value) {
            b.append(' ').append(key).append('=').append(value);
            return this;
        }

        /** key=value with the value escaped (a string of ISO-8859-1 chars, one per byte). */
        Line kvEsc(String key, String value) {
            b.append(' ').append(key).append('=');
            esc(b, value);
            return this;
        }

        Line kvBytes(String key, byte[] value) {
            return kvEsc(key, new String(value, StandardCharsets.ISO_8859_1));
        }

        void end() {
            out.print(b);
            out.print('\n');
            out.flush();
        }
    }

    /** Printable ASCII stays, except \ , | " which, like every byte outside 0x21..0x7e, become \xHH. */
    static void esc(StringBuilder b, String s) {
        for (int i = 0; i < s.length(); i++) {
            int c = s.charAt(i) & 0xff;
            if (c > 0x20 && c < 0x7f && c != '\\' && c != ',' && c != '|' && c != '"') b.append((char) c);
            else b.append(String.format("\\x%02x", c));
        }
    }

    /** A group as the Java API gives it: its name, or "!null" (no name ends within the field). */
    static String groupName(SpreadGroup g) {
        return g == null ? "!null" : g.toString();
    }

    static String names(SpreadGroup[] groups) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < groups.length; i++) {
            if (i > 0) b.append(',');
            if (groups[i] == null) b.append("!null");
            else esc(b, groups[i].toString());
        }
        return b.toString();
    }

    static String serviceNames(int bits) {
        StringBuilder b = new StringBuilder();
        int rest = bits;
        for (int i = 0; i < SERVICE_BITS.length; i++) {
            if ((bits & SERVICE_BITS[i]) != 0) {
                if (b.length() > 0) b.append('|');
                b.append(SERVICE_NAMES[i]);
                rest &= ~SERVICE_BITS[i];
            }
        }
        if (rest != 0 || b.length() == 0) {
            if (b.length() > 0) b.append('|');
            b.append("0x").append(Integer.toHexString(rest));
        }
        return b.toString();
    }

    /** "agreed", "SAFE|self_discard", "agreed+selfdiscard", "AGREED_MESS", "0x10" -> bits, or -1. */
    static int parseService(String s) {
        int bits = 0;
        for (String t : s.split("[|+,]")) {
            if (t.isEmpty()) continue;
            Long v = parseLong(t);
            if (v != null) {
                bits |= v.intValue();
                continue;
            }
            String name = t.toUpperCase();
            if (name.length() > 5 && name.endsWith("_MESS")) name = name.substring(0, name.length() - 5);
            if (name.equals("SELFDISCARD") || name.equals("SELF")) name = "SELF_DISCARD";
            int i = 0;
            while (i < SERVICE_NAMES.length && !SERVICE_NAMES[i].equals(name)) i++;
            if (i == SERVICE_NAMES.length) return -1;
            bits |= SERVICE_BITS[i];
        }
        return bits;
    }

    static Long parseLong(String s) {
        if (s == null || s.isEmpty()) return null;
        try {
            String t = s;
            boolean neg = t.startsWith("-");
            if (neg || t.startsWith("+")) t = t.substring(1);
            long v;
            if (t.startsWith("0x") || t.startsWith("0X")) v = Long.parseLong(t.substring(2), 16);
            else if (t.length() > 1 && t.startsWith("0")) v = Long.parseLong(t.substring(1), 8);
            else v = Long.parseLong(t);
            return neg ? -v : v;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static long parseLong(String s, long dflt) {
        Long v = parseLong(s);
        return v == null ? dflt : v;
    }

    static long fnv1a64(byte[] data) {
        long h = 0xcbf29ce484222325L;
        for (byte x : data) {
            h ^= (x & 0xff);
            h *= 0x100000001b3L;
        }
        return h;
    }

    // ------------------------------------------------------------------ results

    static void ok(String op, String label, String... fields) {
        Line l = new Line("OK").add(" op=" + op + " s=" + label);
        for (String f : fields) l.add(" ").add(f);
        l.end();
    }

    /** An exception from the Java API: its class and message. */
    static void errApi(String op, String label, Throwable e, String... fields) {
        anyError = true;
        Line l = new Line("ERR").add(" op=" + op + " s=" + label).kv("exc", e.getClass().getSimpleName());
        l.kvEsc("msg", String.valueOf(e.getMessage()));
        for (String f : fields) l.add(" ").add(f);
        l.end();
    }

    /** SpJClient's own errors (no API call made), as spclient's code=0 ones. */
    static void errLocal(String op, String label, String name, String msg) {
        anyError = true;
        Line l = new Line("ERR").add(" op=" + op + " s=" + label).kv("exc", "-").kv("name", name);
        if (msg != null) l.kvEsc("msg", msg);
        l.end();
    }

    // ------------------------------------------------------------------ sessions

    /** What a reader thread hands over instead of a message: receive() threw. */
    static final class Failure {
        final Throwable error;

        Failure(Throwable error) {
            this.error = error;
        }
    }

    static final class Session {
        final String label;
        SpreadConnection conn;
        boolean connected;
        boolean failed; // a receive threw: the next recv asks the library again (a fresh reader)
        volatile boolean closing; // disconnect called: the reader's exception is expected
        Thread reader;
        final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        final Map<String, SpreadGroup> joined = new HashMap<>();
        String privateGroup = "";

        Session(String label) {
            this.label = label;
        }

        /** SpreadConnection.receive() blocks without a timeout: a thread receives in a loop and queues
         * what it gets (messages, or the exception that ends it), so recv can wait with a timeout. */
        void startReader() {
            final SpreadConnection c = conn;
            reader = new Thread(() -> {
                try {
                    for (;;) queue.put(c.receive());
                } catch (Throwable e) {
                    if (!closing) queue.add(new Failure(e));
                }
            }, "spjclient-reader-" + label);
            reader.setDaemon(true);
            reader.start();
        }

        /** The next message or Failure within timeoutMs (<0: forever), or null. */
        Object next(long timeoutMs) throws InterruptedException {
            if (failed && queue.isEmpty() && (reader == null || !reader.isAlive())) {
                // the library said the connection failed; an application calling receive() again gets
                // whatever the library says now (immediately, on a closed socket)
                failed = false;
                startReader();
                if (timeoutMs >= 0 && timeoutMs < 2000) timeoutMs = 2000;
            }
            return timeoutMs < 0 ? queue.take() : queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
        }
    }

    static final Map<String, Session> sessions = new HashMap<>();
    static String currentLabel = "main";

    // ------------------------------------------------------------------ receiving

    static void printMessage(Session s, SpreadMessage m) {
        if (m.isMembership()) {
            printMembership(s, m);
            return;
        }
        int st = m.getServiceType();
        byte[] data = m.getData();
        String kind = m.isRegular() ? "MSG" : m.isReject() ? "REJECT" : "UNKNOWN";
        Line l = new Line(kind).kv("s", s.label).kv("service", serviceNames(st))
                .kv("bits", String.format("0x%08x", st)).kvEsc("sender", groupName(m.getSender()));
        SpreadGroup[] groups = m.getGroups();
        l.kv("ngroups", groups.length).kv("groups", names(groups)).kv("type", m.getType());
        if (m.isRegular()) l.kv("endian_mismatch", m.getEndianMismatch() ? 1 : 0);
        l.kv("len", data.length).kv("hash", String.format("%016x", fnv1a64(data)));
        if (data.length <= optShow) l.kvBytes("data", data);
        l.end();
    }

    /** One MembershipInfo getter: its value, "-" for null, or "!Exception" if it threw. */
    static String getter(Supplier<String> f) {
        try {
            String v = f.get();
            return v == null ? "-" : v;
        } catch (RuntimeException e) {
            return "!" + e.getClass().getSimpleName();
        }
    }

    static String vsSet(MembershipInfo.VirtualSynchronySet set) {
        return set == null ? null : names(set.getMembers());
    }

    static void printMembership(Session s, SpreadMessage m) {
        MembershipInfo mi = m.getMembershipInfo();
        int st = m.getServiceType();
        String kind = mi.isRegularMembership() ? "REG" : mi.isTransition() ? "TRANS" : mi.isSelfLeave() ? "SELF_LEAVE" : "OTHER";
        StringBuilder cause = new StringBuilder();
        if (mi.isCausedByJoin()) cause.append("|JOIN");
        if (mi.isCausedByLeave()) cause.append("|LEAVE");
        if (mi.isCausedByDisconnect()) cause.append("|DISCONNECT");
        if (mi.isCausedByNetwork()) cause.append("|NETWORK");
        Line l = new Line("MEMB").kv("s", s.label).kv("kind", kind)
                .kv("cause", cause.length() == 0 ? "NONE" : cause.substring(1))
                .kvEsc("group", groupName(mi.getGroup())).kv("service", serviceNames(st))
                .kv("bits", String.format("0x%08x", st)).kv("my_index", m.getType()).kv("len", m.getData().length);
        l.kv("gid", getter(() -> mi.getGroupID() == null ? null : mi.getGroupID().toString().replace(' ', ':')));
        l.kv("members", getter(() -> mi.getMembers() == null ? null : names(mi.getMembers())));
        l.kv("joined", getter(() -> mi.getJoined() == null ? null : names(new SpreadGroup[] {mi.getJoined()})));
        l.kv("left", getter(() -> mi.getLeft() == null ? null : names(new SpreadGroup[] {mi.getLeft()})));
        l.kv("disconnected", getter(() -> mi.getDisconnected() == null ? null : names(new SpreadGroup[] {mi.getDisconnected()})));
        @SuppressWarnings("deprecation")
        String stayed = getter(() -> mi.getStayed() == null ? null : names(mi.getStayed()));
        l.kv("stayed", stayed);
        l.kv("vs_sets", getter(() -> {
            MembershipInfo.VirtualSynchronySet[] sets = mi.getVirtualSynchronySets();
            if (sets == null) return null;
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < sets.length; i++) b.append(i > 0 ? "|" : "").append(vsSet(sets[i]));
            return sets.length + ":" + b;
        }));
        l.kv("my_vs_set", getter(() -> vsSet(mi.getMyVirtualSynchronySet())));
        // which of getVirtualSynchronySets() is getMyVirtualSynchronySet() (the same object)
        l.kv("my_vs_index", getter(() -> {
            MembershipInfo.VirtualSynchronySet[] sets = mi.getVirtualSynchronySets();
            MembershipInfo.VirtualSynchronySet mine = mi.getMyVirtualSynchronySet();
            if (sets == null) return null;
            for (int i = 0; i < sets.length; i++) if (sets[i] == mine) return Integer.toString(i);
            return "none";
        }));
        l.end();
    }

    /** Receives one thing within timeoutMs: prints it; false on a timeout (nothing printed). */
    static boolean receiveOne(Session s, long timeoutMs) throws InterruptedException {
        Object o = s.next(timeoutMs);
        if (o == null) return false;
        if (o instanceof Failure) {
            s.failed = true;
            errApi("recv", s.label, ((Failure) o).error);
        } else {
            printMessage(s, (SpreadMessage) o);
        }
        return true;
    }

    // ------------------------------------------------------------------ commands

    /** Splits a line into words; "..." quotes (with \" \\ \n \t \0 \xHH inside); a leading # is a
     * comment. null on an unterminated quote. */
    static List<String> tokenize(String p) {
        List<String> tok = new ArrayList<>();
        int i = 0, n = p.length();
        for (;;) {
            while (i < n && isBlank(p.charAt(i))) i++;
            if (i >= n || (p.charAt(i) == '#' && tok.isEmpty())) return tok;
            StringBuilder w = new StringBuilder();
            while (i < n && !isBlank(p.charAt(i))) {
                char c = p.charAt(i);
                if (c != '"') {
                    w.append(c);
                    i++;
                    continue;
                }
                i++;
                while (i < n && p.charAt(i) != '"') {
                    char d = p.charAt(i);
                    if (d == '\\' && i + 1 < n) {
                        char e = p.charAt(++i);
                        switch (e) {
                        case 'n': w.append('\n'); i++; break;
                        case 't': w.append('\t'); i++; break;
                        case '0': w.append('\0'); i++; break;
                        case 'x':
                            if (i + 2 < n && isHex(p.charAt(i + 1)) && isHex(p.charAt(i + 2))) {
                                w.append((char) Integer.parseInt(p.substring(i + 1, i + 3), 16));
                                i += 3;
                            } else {
                                w.append(e);
                                i++;
                            }
                            break;
                        default: w.append(e); i++; break;
                        }
                    } else {
                        w.append(d);
                        i++;
                    }
                }
                if (i >= n) return null;
                i++;
            }
            tok.add(w.toString());
        }
    }

    static boolean isBlank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    static boolean isHex(char c) {
        return Character.digit(c, 16) >= 0;
    }

    static List<String> tok;

    static String optVal(int from, String key) {
        for (int i = from; i < tok.size(); i++)
            if (tok.get(i).startsWith(key + "=")) return tok.get(i).substring(key.length() + 1);
        return null;
    }

    static boolean hasWord(int from, String word) {
        for (int i = from; i < tok.size(); i++) if (tok.get(i).equals(word)) return true;
        return false;
    }

    static boolean needSession(Session s, String op, String label) {
        if (s == null || !s.connected) {
            errLocal(op, label, "NOT_CONNECTED", null);
            return false;
        }
        return true;
    }

    /** connect ADDR NAME [memb|nomemb] [prio=N]: SpreadConnection.connect(address, port, name, priority, membership).
     * ADDR: PORT@HOST, or PORT (address null: the library's default, the local host). NAME "-": none. */
    static void cmdConnect(String label) {
        if (tok.size() < 3) {
            errLocal("connect", label, "USAGE", "connect PORT@HOST NAME [memb|nomemb] [prio=N]");
            return;
        }
        Session s = sessions.computeIfAbsent(label, Session::new);
        if (s.connected) {
            errLocal("connect", label, "ALREADY_CONNECTED", s.privateGroup);
            return;
        }
        String addr = tok.get(1);
        String name = tok.get(2).equals("-") ? null : tok.get(2);
        boolean memb = !hasWord(3, "nomemb") && parseLong(optVal(3, "memb"), 1) != 0;
        boolean prio = parseLong(optVal(3, "prio"), 0) != 0;
        if (addr.contains("/")) {
            errLocal("connect", label, "UNSUPPORTED", "the Java library connects over TCP only (PORT@HOST)");
            return;
        }
        int at = addr.indexOf('@');
        Long port = parseLong(at < 0 ? addr : addr.substring(0, at));
        if (port == null) {
            errLocal("connect", label, "USAGE", "ADDR: PORT@HOST or PORT");
            return;
        }
        SpreadConnection c = new SpreadConnection();
        try {
            InetAddress host = at < 0 ? null : InetAddress.getByName(addr.substring(at + 1));
            c.connect(host, port.intValue(), name, prio, memb);
        } catch (Exception e) {
            errApi("connect", label, e);
            return;
        }
        s.conn = c;
        s.connected = true;
        s.failed = false;
        s.closing = false;
        s.queue.clear();
        s.joined.clear();
        s.privateGroup = groupName(c.getPrivateGroup());
        s.startReader();
        new Line("OK").add(" op=connect s=" + label).kvEsc("private", s.privateGroup).end();
    }

    /** join GROUP... / leave GROUP...: SpreadGroup.join(connection, name) and that object's leave()
     * (a group this session did not join: a fresh SpreadGroup's leave(), which the library refuses). */
    static void cmdJoinLeave(Session s, String label, boolean join) {
        String op = join ? "join" : "leave";
        if (tok.size() < 2) {
            errLocal(op, label, "USAGE", op + " GROUP...");
            return;
        }
        if (!needSession(s, op, label)) return;
        for (int i = 1; i < tok.size(); i++) {
            String g = tok.get(i);
            try {
                if (join) {
                    SpreadGroup group = new SpreadGroup();
                    group.join(s.conn, g);
                    s.joined.put(g, group);
                } else {
                    SpreadGroup group = s.joined.remove(g);
                    (group != null ? group : new SpreadGroup()).leave();
                }
                new Line("OK").add(" op=" + op + " s=" + label).kvEsc("group", g).end();
            } catch (Exception e) {
                anyError = true;
                new Line("ERR").add(" op=" + op + " s=" + label).kv("exc", e.getClass().getSimpleName())
                        .kvEsc("msg", String.valueOf(e.getMessage())).kvEsc("group", g).end();
            }
        }
    }

    static byte[] payload(int index) {
        String text = optVal(3, "text"), hex = optVal(3, "hex"), size = optVal(3, "size"), pattern = optVal(3, "pattern");
        if (text != null) return text.replace("%n", Integer.toString(index)).getBytes(StandardCharsets.ISO_8859_1);
        if (hex != null) {
            if (hex.length() % 2 != 0) return null;
            byte[] b = new byte[hex.length() / 2];
            for (int i = 0; i < b.length; i++) {
                int hi = Character.digit(hex.charAt(2 * i), 16), lo = Character.digit(hex.charAt(2 * i + 1), 16);
                if (hi < 0 || lo < 0) return null;
                b[i] = (byte) (hi * 16 + lo);
            }
            return b;
        }
        long n = parseLong(size, 0);
        if (n < 0 || n > (1 << 28)) return null;
        byte[] b = new byte[(int) n];
        if (pattern == null || pattern.equals("seq")) {
            for (int i = 0; i < n; i++) b[i] = (byte) i;
        } else {
            byte[] p = pattern.getBytes(StandardCharsets.ISO_8859_1);
            for (int i = 0; i < n; i++) b[i] = p.length == 0 ? 0 : p[i % p.length];
        }
        return b;
    }

    /** send SERVICE GROUP[,GROUP...] [type=N] [text=T|hex=H|size=N [pattern=P]] [count=N] [selfdiscard]:
     * a SpreadMessage (setAgreed()... or setServiceType for other bits, setSelfDiscard, setType,
     * setData, addGroup) given to SpreadConnection.multicast. */
    static void cmdSend(Session s, String label) {
        if (tok.size() < 3) {
            errLocal("send", label, "USAGE", "send SERVICE GROUP[,GROUP...] [type=N] [text=T|hex=H|size=N [pattern=P]] [count=N] [selfdiscard]");
            return;
        }
        if (!needSession(s, "send", label)) return;
        int svc = parseService(tok.get(1));
        if (svc < 0) {
            errLocal("send", label, "USAGE", "unknown service");
            return;
        }
        if (hasWord(3, "selfdiscard") || hasWord(3, "self_discard")) svc |= SELF_DISCARD;
        String[] groups = tok.get(2).split(",", -1);
        short type = (short) parseLong(optVal(3, "type"), 0);
        long count = parseLong(optVal(3, "count"), 1);
        long total = 0;
        int lastLen = 0;
        for (long i = 0; i < count; i++) {
            byte[] data = payload((int) i);
            if (data == null) {
                errLocal("send", label, "USAGE", "bad payload (hex= needs an even number of hex digits; size= 0..2^28)");
                return;
            }
            SpreadMessage m = new SpreadMessage();
            switch (svc & ~SELF_DISCARD) {
            case UNRELIABLE: m.setUnreliable(); break;
            case RELIABLE: m.setReliable(); break;
            case FIFO: m.setFifo(); break;
            case CAUSAL: m.setCausal(); break;
            case AGREED: m.setAgreed(); break;
            case SAFE: m.setSafe(); break;
            default: m.setServiceType(svc & ~SELF_DISCARD); break;
            }
            m.setSelfDiscard((svc & SELF_DISCARD) != 0);
            m.setType(type);
            m.setData(data);
            for (String g : groups) m.addGroup(g);
            try {
                s.conn.multicast(m);
            } catch (Exception e) {
                errApi("send", label, e, "sent=" + i);
                return;
            }
            total += data.length;
            lastLen = data.length;
        }
        Line l = new Line("OK").add(" op=send s=" + label).kv("service", serviceNames(svc)).kv("ngroups", groups.length).kv("type", type);
        if (count == 1) l.kv("len", lastLen);
        else l.kv("count", count).kv("len_total", total);
        l.end();
    }

    static void cmdRecv(Session s, String label) throws InterruptedException {
        if (!needSession(s, "recv", label)) return;
        long timeout = parseLong(tok.size() > 1 ? tok.get(1) : null, 5000);
        if (!receiveOne(s, timeout)) new Line("TIMEOUT").kv("s", label).kv("ms", timeout).end();
    }

    static void cmdRecvn(Session s, String label) throws InterruptedException {
        if (tok.size() < 2) {
            errLocal("recvn", label, "USAGE", "recvn N [MS]");
            return;
        }
        if (!needSession(s, "recvn", label)) return;
        long n = parseLong(tok.get(1), 1);
        long timeout = parseLong(tok.size() > 2 ? tok.get(2) : null, 5000);
        long deadline = System.nanoTime() / 1_000_000 + timeout;
        for (long i = 0; i < n; i++) {
            long left = timeout < 0 ? -1 : Math.max(0, deadline - System.nanoTime() / 1_000_000);
            Object o = s.failed ? null : s.next(left);
            if (o == null) {
                new Line("TIMEOUT").kv("s", label).kv("ms", timeout).kv("got", i).kv("want", n).end();
                return;
            }
            if (o instanceof Failure) {
                s.failed = true;
                errApi("recv", label, ((Failure) o).error);
                return;
            }
            printMessage(s, (SpreadMessage) o);
        }
    }

    static void cmdDrain(Session s, String label) throws InterruptedException {
        if (!needSession(s, "drain", label)) return;
        long quiet = parseLong(tok.size() > 1 ? tok.get(1) : null, 500);
        long n = 0;
        while (!s.failed) {
            Object o = s.next(quiet);
            if (o == null) break;
            if (o instanceof Failure) {
                s.failed = true;
                errApi("recv", label, ((Failure) o).error);
                return;
            }
            printMessage(s, (SpreadMessage) o);
            n++;
        }
        new Line("DRAINED").kv("s", label).kv("n", n).end();
    }

    static String expand(String raw, String label) {
        StringBuilder b = new StringBuilder();
        int i = 0;
        while (i < raw.length()) {
            int close;
            if (raw.startsWith("${", i) && (close = raw.indexOf('}', i + 2)) >= 0) {
                String name = raw.substring(i + 2, close);
                String v = System.getenv(name);
                if (v == null) {
                    errLocal("parse", label, "UNSET_VARIABLE", name);
                    return null;
                }
                b.append(v);
                i = close + 1;
            } else {
                b.append(raw.charAt(i++));
            }
        }
        return b.toString();
    }

    static void runLine(String raw) throws Exception {
        racy = false;
        try {
            runLineInner(raw);
        } finally {
            racy = false;
        }
    }

    static void runLineInner(String raw) throws Exception {
        String label = currentLabel;
        String trimmed = raw.replaceAll("[\r\n]+$", "").replaceAll("^[ \t]+", "");
        if (optEcho && !trimmed.isEmpty()) {
            out.print("> " + trimmed + "\n");
            out.flush();
        }
        // ${NAME} is replaced by the environment variable's value (not in sh lines: the shell does it)
        String q = trimmed.replaceAll("^[?]+", "").replaceAll("^@\\S*", "").replaceAll("^[ \t]+", "");
        boolean isSh = q.equals("sh") || q.startsWith("sh ") || q.startsWith("sh\t");
        String text = raw;
        if (!isSh && raw.contains("${")) {
            text = expand(raw, label);
            if (text == null) return;
        }
        tok = tokenize(text);
        if (tok == null) {
            errLocal("parse", label, "USAGE", "unterminated quote");
            return;
        }
        if (tok.isEmpty()) return;
        if (tok.get(0).startsWith("?")) { // "? cmd" or "?cmd": the result depends on timing
            racy = true;
            if (tok.get(0).length() > 1) tok.set(0, tok.get(0).substring(1));
            else {
                tok.remove(0);
                if (tok.isEmpty()) return;
            }
        }
        if (tok.get(0).startsWith("@")) {
            label = tok.get(0).substring(1);
            tok.remove(0);
            if (tok.isEmpty()) { // "@x" alone: x becomes the default session
                currentLabel = label;
                return;
            }
        }
        String cmd = tok.get(0);
        Session s = sessions.get(label);
        switch (cmd) {
        case "connect": cmdConnect(label); return;
        case "join": cmdJoinLeave(s, label, true); return;
        case "leave": cmdJoinLeave(s, label, false); return;
        case "send": case "mcast": case "multicast": cmdSend(s, label); return;
        case "recv": cmdRecv(s, label); return;
        case "recvn": cmdRecvn(s, label); return;
        case "drain": cmdDrain(s, label); return;
        case "disconnect": {
            if (!needSession(s, "disconnect", label)) return;
            s.closing = true;
            s.connected = false;
            try {
                s.conn.disconnect();
            } catch (Exception e) {
                errApi("disconnect", label, e);
                return;
            }
            ok("disconnect", label);
            return;
        }
        case "info": {
            Line l = new Line("OK").add(" op=info s=" + label).kv("connected", s != null && s.connected ? 1 : 0)
                    .kv("failed", s != null && s.failed ? 1 : 0);
            if (s != null && s.connected) l.kvEsc("private", s.privateGroup);
            l.end();
            return;
        }
        case "use":
            if (tok.size() < 2) {
                errLocal("use", label, "USAGE", "use LABEL");
                return;
            }
            currentLabel = tok.get(1);
            ok("use", currentLabel);
            return;
        case "sleep": {
            long ms = parseLong(tok.size() > 1 ? tok.get(1) : null, 1000);
            Thread.sleep(Math.max(0, ms));
            ok("sleep", label, "ms=" + ms);
            return;
        }
        case "echo": {
            Line l = new Line("ECHO");
            for (int i = 1; i < tok.size(); i++) {
                l.add(" ");
                esc(l.b, tok.get(i));
            }
            l.end();
            return;
        }
        case "sh": { // the rest of the raw line to /bin/sh; its output goes to stderr
            String rest = q.substring(2);
            ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "exec 1>&2; " + rest);
            pb.redirectInput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT);
            int rc = pb.start().waitFor();
            ok("sh", label, "rc=" + rc);
            if (rc != 0) anyError = true;
            return;
        }
        case "exit": case "quit":
            out.flush();
            System.exit(anyError ? 1 : 0);
            return;
        default:
            errLocal(cmd, label, "UNKNOWN_COMMAND", null);
        }
    }

    static void usage(PrintStream f) {
        f.print("usage: spjclient [--echo] [--ts] [--show N] [--exit-on-error] [COMMAND...] [-]\n"
                + "  each COMMAND is one command line; with none, or a last '-', lines are read from stdin.\n"
                + "  commands: connect PORT@HOST NAME [nomemb] [prio=1] | join G... | leave G... |\n"
                + "    send SERVICE G[,G...] [type=N] [text=T|hex=H|size=N [pattern=P]] [count=N] [selfdiscard] |\n"
                + "    recv [MS] | recvn N [MS] | drain [MS] | disconnect | info | use L | sleep MS | echo W | sh CMD | exit\n"
                + "  @LABEL before a command picks the session; '?' marks a timing-dependent line (see scripts/spread/README.md)\n");
    }

    public static void main(String[] argv) throws Exception {
        out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "ISO-8859-1");
        System.setOut(System.err); // the library's own printing stays off the transcript
        // one char per byte, in and out: arguments back to their bytes, stdin read as ISO-8859-1
        Charset platform = Charset.defaultCharset();
        List<String> commands = new ArrayList<>();
        boolean readStdin = false;
        int i = 0;
        for (; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--echo") || a.equals("-v")) optEcho = true;
            else if (a.equals("--ts")) optTs = true;
            else if (a.equals("--exit-on-error")) optExitOnError = true;
            else if (a.equals("--show") && i + 1 < argv.length) optShow = (int) parseLong(argv[++i], 64);
            else if (a.equals("--auto")) {
                System.err.println("spjclient: --auto is not supported");
                System.exit(2);
            } else if (a.equals("-h") || a.equals("--help")) {
                usage(out);
                System.exit(0);
            } else if (a.equals("--")) {
                i++;
                break;
            } else if (a.startsWith("--")) {
                usage(System.err);
                System.exit(2);
            } else break;
        }
        for (; i < argv.length; i++) {
            if (argv[i].equals("-") && i == argv.length - 1) readStdin = true;
            else commands.add(new String(argv[i].getBytes(platform), StandardCharsets.ISO_8859_1));
        }
        if (commands.isEmpty()) readStdin = true;
        for (String c : commands) {
            runLine(c);
            if (optExitOnError && anyError) break;
        }
        if (readStdin && !(optExitOnError && anyError)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.ISO_8859_1));
            String line;
            while ((line = in.readLine()) != null) {
                runLine(line);
                if (optExitOnError && anyError) break;
            }
        }
        out.flush();
        System.exit(anyError ? 1 : 0);
    }
}
