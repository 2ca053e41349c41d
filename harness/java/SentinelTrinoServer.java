// Test infrastructure: entry point for a Trino server assembled from Maven Central jars (the older release line,
// whose trino-server tarball is not published there). Does what io.trino.server.TrinoServer#main does.
// Run as a single-file source program: java -cp 'lib/*' SentinelTrinoServer.java <version>
public final class SentinelTrinoServer {
    private SentinelTrinoServer() {}

    public static void main(String[] args) {
        new io.trino.server.Server().start(args.length > 0 ? args[0] : "unknown");
    }
}
