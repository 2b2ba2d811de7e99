import RouteCompiler
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// Hop timing in the record, the new metrics, and the dashboard's parts: ring, windows, snapshot, SSE framing,
/// stream bounds.
@Suite struct UpstreamTimingTests {
  static let start = MonotonicInstant.now

  @Test func exchangesGiveUpstreamLatencyAndTheOverheadIsTheRestOfTheTotal() {
    var record = RequestRecord(id: "r")
    let timings = [
      UpstreamTiming(
        backend: "a", sent: Self.start + .milliseconds(10), answered: nil, ended: Self.start + .milliseconds(110)),
      UpstreamTiming(
        backend: "b", sent: Self.start + .milliseconds(120), answered: Self.start + .milliseconds(170),
        ended: Self.start + .milliseconds(920)),
    ]
    for event: RequestEvent in [
      .exchanges(timings.map(RequestRecord.UpstreamExchange.init)), .finished(at: Self.start + .seconds(1)),
    ] {
      record.apply(event, started: Self.start)
    }
    #expect(record.exchanges.map(\.backend) == ["a", "b"])
    #expect(record.exchanges[0].latency == nil)
    #expect(abs((record.exchanges[1].latency ?? 0) - 0.05) < 1e-9)
    #expect(abs(record.exchanges[1].open - 0.8) < 1e-9)
    // 1 s in all, 0.1 s + 0.8 s of it with a backend exchange open.
    #expect(abs(record.gatewayOverhead - 0.1) < 1e-9)
  }

  @Test func theOverheadIsNeverNegative() {
    var record = RequestRecord(id: "r")
    record.total = 0.5
    record.exchanges = [.init(backend: "a", latency: 0.1, open: 0.7)]
    #expect(record.gatewayOverhead == 0)
  }

  @Test func featuresComeFromTheFactsRoutingSaw() {
    var record = RequestRecord(id: "r")
    let facts = RequestFacts(client: nil, key: nil, model: "m", stream: true, tools: true, images: false)
    record.apply(.features(facts), started: Self.start)
    #expect(record.features == RequestRecord.Features(stream: true, tools: true, images: false))
  }

  struct Answering: UpstreamTransport {
    let body: UpstreamBody
    func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
      UpstreamResponse(head: UpstreamResponseHead(status: 200, headers: UpstreamHeaders([])), body: body)
    }
  }

  struct Refusing: UpstreamTransport {
    func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
      throw .connectFailed("refused")
    }
  }

  static func request() throws -> UpstreamRequest {
    UpstreamRequest(
      post: try UpstreamURL(base: "http://127.0.0.1:9/v1", path: []), headers: [], body: [],
      connectTimeout: .seconds(1), firstByteTimeout: .seconds(1), streamIdleTimeout: .seconds(1),
      totalTimeout: .seconds(1))
  }

  @Test func theTimelineNotesEachExchangeSentThroughIt() async throws {
    let body = UpstreamBody(chunks: [Array("{}".utf8)])
    let timeline = UpstreamTimeline()
    let request = try Self.request()
    _ = try? await timeline.send(request, through: Refusing(), backend: "down")
    _ = try? await timeline.send(request, through: Answering(body: body), backend: "up")
    let later = MonotonicInstant.now + .seconds(60)
    let timings = timeline.timings(now: later)
    #expect(timings.map(\.backend) == ["down", "up"])
    #expect(timings[0].answered == nil && timings[0].ended >= timings[0].sent && timings[0].ended < later)
    let answered = try #require(timings[1].answered)
    #expect(answered >= timings[1].sent)
    // The body had ended already: its end, not the request's, closes the exchange.
    #expect(timings[1].ended == body.endedAt && timings[1].ended < later)
  }

  @Test func aBodyStillOpenCountsUntilTheRequestEnds() async throws {
    let body = UpstreamBody()
    let timeline = UpstreamTimeline()
    let request = try Self.request()
    #expect(timeline.timings(now: .now).isEmpty)
    _ = try await timeline.send(request, through: Answering(body: body), backend: "up")
    let end = MonotonicInstant.now + .seconds(5)
    #expect(timeline.timings(now: end).map(\.ended) == [end])
  }

  @Test func theGatewayRecordsTheExchangesOfARequest() async throws {
    let records = Mutex<[RequestRecord]>([])
    let (table, _) = try compileMetricsRoutes(MetricsAdminKeyTests.routes(server: ""))
    let gateway = Gateway(
      table: try #require(table), transport: TransportFactory.make,
      sink: { record in records.withLock { $0.append(record) } })
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    let port = try server.start()
    defer { server.stopNow() }
    let client = try TestClient(port: port)
    let body = #"{"contents":[{"parts":[{"text":"two words"}]}]}"#
    client.send(
      "POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    )
    _ = await client.readToEnd()
    await server.shutdown(gracePeriod: .seconds(5))
    let record = try #require(records.withLock { $0 }.first)
    #expect(record.exchanges.count == 1)
    #expect(record.exchanges.first?.backend == "echo")
    #expect(record.exchanges.first?.latency != nil)
    #expect(record.gatewayOverhead <= record.total)
  }
}

@Suite struct NewMetricsTests {
  @Test func overheadAndUpstreamLatencyAreHistogramsByRouteAndBackend() {
    let metrics = GatewayMetrics(wallClock: { 1000 })
    var record = GatewayMetricsTests.record(hops: [("a", "503"), ("b", "ok")], status: 200)
    record.total = 1
    record.exchanges = [.init(backend: "a", latency: 0.02, open: 0.02), .init(backend: "b", latency: 0.3, open: 0.9)]
    metrics.record(record)
    let lines = GatewayMetricsTests.lines(metrics)
    #expect(lines.contains(#"louter_gateway_overhead_seconds_bucket{route="r",backend="b",le="0.1"} 1"#))
    #expect(lines.contains(#"louter_gateway_overhead_seconds_bucket{route="r",backend="b",le="0.05"} 0"#))
    #expect(lines.contains(#"louter_upstream_latency_seconds_bucket{route="r",backend="a",le="0.025"} 1"#))
    #expect(lines.contains(#"louter_upstream_latency_seconds_bucket{route="r",backend="b",le="0.25"} 0"#))
    #expect(lines.contains(#"louter_upstream_latency_seconds_count{route="r",backend="b"} 1"#))
    #expect(lines.contains(#"louter_fallbacks_total{route="r",backend="a",reason="503"} 1"#))
  }

  @Test func streamsInFlightAndBackendHealthAreGauges() {
    let metrics = GatewayMetrics()
    metrics.readGauges { ServerGauges(requestsInFlight: 3, openConnections: 2, streamsInFlight: 1) }
    let health = BackendHealth(limit: 4, failureThreshold: 1, coolDown: .seconds(10))
    let start = MonotonicInstant.now
    #expect(health.acquire(now: start) == nil)
    health.release(healthy: false, now: start)
    let open = health.snapshot(now: start + .seconds(1))
    metrics.readBackends {
      [BackendState(name: "down", health: open), BackendState(name: "up", health: BackendHealth(limit: 2).snapshot())]
    }
    let lines = GatewayMetricsTests.lines(metrics)
    #expect(lines.contains("louter_streams_in_flight 1"))
    #expect(lines.contains(#"louter_backend_circuit{backend="down",state="open"} 1"#))
    #expect(lines.contains(#"louter_backend_circuit{backend="down",state="closed"} 0"#))
    #expect(lines.contains(#"louter_backend_circuit{backend="up",state="closed"} 1"#))
    #expect(lines.contains(#"louter_backend_consecutive_failures{backend="down"} 1"#))
    #expect(lines.contains(#"louter_backend_in_flight{backend="up"} 0"#))
  }

  @Test func aHealthSnapshotFollowsTheCircuitWithoutChangingIt() {
    let health = BackendHealth(limit: 4, failureThreshold: 2, coolDown: .seconds(10))
    let start = MonotonicInstant.now
    #expect(health.snapshot(now: start).circuit == .closed)
    for _ in 0..<2 {
      #expect(health.acquire(now: start) == nil)
      health.release(healthy: false, now: start)
    }
    let open = health.snapshot(now: start + .seconds(4))
    #expect(open.circuit == .open && open.coolDownRemainingMilliseconds == 6000 && open.consecutiveFailures == 2)
    #expect(health.snapshot(now: start + .seconds(11)).circuit == .halfOpen)
    // Reading changed nothing: the probe is still free to take.
    #expect(health.acquire(now: start + .seconds(11)) == nil)
    #expect(health.snapshot(now: start + .seconds(11)).inFlight == 1)
  }
}

@Suite struct DashboardStateTests {
  @Test func theRingKeepsTheLastElementsOldestFirst() {
    var ring = Ring<Int>(capacity: 3)
    for value in 1...2 { ring.append(value) }
    #expect(ring.elements == [1, 2])
    for value in 3...7 { ring.append(value) }
    #expect(ring.elements == [5, 6, 7])
    #expect(ring.count == 3)
  }

  @Test func aTrafficWindowForgetsWhatIsOlderThanAMinute() {
    var window = TrafficWindow()
    window.add(second: 1000, error: false, total: 0.2, firstToken: 0.1)
    window.add(second: 1000, error: true, total: 0.4, firstToken: nil)
    window.add(second: 1030, error: false, total: 0.6, firstToken: 0.3)
    let now = window.summary(at: 1030)
    #expect(now.count == 3 && now.errors == 1 && now.firstTokenCount == 2)
    #expect(abs(now.totalSum - 1.2) < 1e-9)
    #expect(window.summary(at: 1059).count == 3)
    #expect(window.summary(at: 1060).count == 1)
    // A second 60 s later reuses the bucket and starts it afresh.
    window.add(second: 1090, error: false, total: 1, firstToken: nil)
    #expect(window.summary(at: 1090).count == 1)
  }

  static func record(_ id: String, route: String, backend: String?, status: Int) -> RequestRecord {
    var record = RequestRecord(id: id)
    record.route = route
    record.hops = backend.map { [RequestRecord.Hop(backend: $0, outcome: "ok")] } ?? []
    record.status = status
    record.total = 0.5
    record.timeToFirstToken = 0.25
    record.features = RequestRecord.Features(stream: true, tools: false, images: true)
    return record
  }

  @Test func theSnapshotListsRecentRequestsNewestFirstAndBounded() throws {
    let dashboard = Dashboard(files: ["routes/a.toml"], wallClock: { 5000 })
    for index in 0..<(Dashboard.recentLimit + 5) {
      dashboard.record(Self.record("id\(index)", route: "main", backend: "b", status: 200))
    }
    let snapshot = dashboard.snapshot()
    let recent = try #require(snapshot["recent"]?.arrayValue)
    #expect(recent.count == Dashboard.recentLimit)
    #expect(recent.first?["id"] == .string("id\(Dashboard.recentLimit + 4)"))
    #expect(recent.last?["id"] == .string("id5"))
    #expect(recent.first?["badges"] == .array(["stream", "images"]))
    #expect(recent.first?["ttft_ms"] == .double(250))
    #expect(recent.first?["chain"] == .array([.object(["backend": "b", "outcome": "ok"])]))
  }

  @Test func namesPastTheLimitAreNotTrackedAndTrackedOnesStillCount() throws {
    let dashboard = Dashboard(files: [], wallClock: { 5000 })
    for index in 0..<Dashboard.nameLimit {
      dashboard.record(Self.record("\(index)", route: "r\(index)", backend: "b", status: 200))
    }
    dashboard.record(Self.record("late", route: "late", backend: "b", status: 200))
    dashboard.record(Self.record("again", route: "r0", backend: "b", status: 500))
    let snapshot = dashboard.snapshot()
    let routes = try #require(snapshot["routes"]?.arrayValue)
    #expect(routes.count == Dashboard.nameLimit)
    #expect(!routes.contains { $0["name"] == .string("late") })
    let first = try #require(routes.first { $0["name"] == .string("r0") })
    #expect(first["count"] == .int(2) && first["errors"] == .int(1))
    let backend = try #require(snapshot["backends"]?.arrayValue?.first)
    #expect(backend["name"] == .string("b") && backend["count"] == .int(Int64(Dashboard.nameLimit + 2)))
  }

  @Test func routesBackendsInFlightAndConfigurationAreInTheSnapshot() throws {
    let dashboard = Dashboard(files: ["routes/a.toml"], wallClock: { 5000 })
    let health = BackendHealth(limit: 3)
    dashboard.read(
      DashboardSources(
        gauges: { ServerGauges(requestsInFlight: 2, openConnections: 1, streamsInFlight: 1) },
        backends: { [BackendState(name: "b", health: health.snapshot())] }, routes: { ["idle", "main"] },
        limits: {
          [ClientLimitState(client: "team", limits: [.init(kind: .requestsPerMinute, limit: 60, used: 7)])]
        }))
    dashboard.record(Self.record("1", route: "main", backend: "b", status: 200))
    dashboard.record(Self.record("2", route: "main", backend: "b", status: 503))
    let token = dashboard.begin(method: "POST", path: "/v1beta/models/" + String(repeating: "x", count: 400))
    _ = dashboard.begin(method: "GET", path: "/healthz")
    dashboard.end(token)
    dashboard.reloaded(succeeded: false, files: ["ignored.toml"], message: "reload refused (1)")

    let snapshot = dashboard.snapshot()
    let routes = try #require(snapshot["routes"]?.arrayValue)
    #expect(routes.map { $0["name"] } == [.string("idle"), .string("main")])
    #expect(routes[0]["count"] == .int(0) && routes[1]["count"] == .int(2) && routes[1]["errors"] == .int(1))
    #expect(routes[1]["mean_ms"] == .double(500))
    let backend = try #require(snapshot["backends"]?.arrayValue?.first)
    #expect(backend["name"] == .string("b") && backend["circuit"] == .string("closed"))
    #expect(backend["limit"] == .int(3) && backend["count"] == .int(2))
    #expect(snapshot["server"]?["streams_in_flight"] == .int(1))
    #expect(snapshot["in_flight"]?["count"] == .int(1))
    #expect(snapshot["in_flight"]?["requests"]?.arrayValue?.first?["path"] == .string("/healthz"))
    let config = try #require(snapshot["config"])
    #expect(config["files"] == .array(["routes/a.toml"]), "a refused reload keeps the files in use")
    #expect(config["generation"] == .int(1))
    #expect(config["last_reload"]?["succeeded"] == .bool(false))
    #expect(config["last_reload"]?["message"] == .string("reload refused (1)"))
    let limit = try #require(snapshot["limits"]?.arrayValue?.first)
    #expect(limit["client"] == .string("team"))
    #expect(
      limit["limits"]
        == .array([.object(["kind": "requests_per_minute", "limit": .int(60), "used": .int(7)])]))
  }

  @Test func longPathsAreCutOnACharacterBoundary() {
    let cut = Dashboard.cut(String(repeating: "é", count: 200), to: Dashboard.pathLimit)
    #expect(cut.utf8.count <= Dashboard.pathLimit && cut.hasSuffix("..."))
    #expect(Dashboard.cut("/short", to: Dashboard.pathLimit) == "/short")
  }

  @Test func wallClockSecondsSaturate() {
    #expect(Dashboard.second(.nan) == 0 && Dashboard.second(-5) == 0 && Dashboard.second(12.9) == 12)
    #expect(Dashboard.second(.infinity) == 0 && Dashboard.second(1e300) == Int64(9e15))
  }
}

@Suite struct DashboardSSETests {
  @Test func anEventIsNameThenOneDataLinePerLineThenABlankLine() {
    let text = String(decoding: DashboardSSE.event("snapshot", data: #"{"a":1}"#), as: UTF8.self)
    #expect(text == "event: snapshot\ndata: {\"a\":1}\n\n")
  }

  @Test func noTextCanEndTheEventEarlyOrForgeAField() {
    let text = String(decoding: DashboardSSE.event("snapshot", data: "one\r\n\r\nevent: x\rtwo\nthree"), as: UTF8.self)
    #expect(text == "event: snapshot\ndata: one\ndata: \ndata: event: x\ndata: two\ndata: three\n\n")
    #expect(!text.dropLast(2).contains("\n\n"))
  }

  @Test func theSnapshotIsOneLineOfJSON() {
    let json = Dashboard(files: ["a\nb.toml"]).snapshot().serialized()
    #expect(!json.contains("\n"))
  }
}

/// A stream sink that records what a dashboard stream writes, and can act on the n-th snapshot.
final class DashboardSink: StreamSink, Sendable {
  let written = Mutex<[String]>([])
  let onSnapshot: @Sendable (Int) -> Void

  init(onSnapshot: @escaping @Sendable (Int) -> Void = { _ in }) { self.onSnapshot = onSnapshot }

  func startStream(status: Int, headers: [(String, String)]) async throws(HTTPResponderError) {
    written.withLock { $0.append("head \(status) \(headers[0].1)") }
  }

  func write(_ bytes: [UInt8]) async throws(HTTPResponderError) {
    let text = String(decoding: bytes, as: UTF8.self)
    let count = written.withLock { written -> Int in
      written.append(text)
      return written.filter { $0.hasPrefix("event: snapshot") }.count
    }
    if text.hasPrefix("event: snapshot") { onSnapshot(count) }
  }

  func finish() async throws(HTTPResponderError) { written.withLock { $0.append("finish") } }
  func abort() { written.withLock { $0.append("abort") } }

  var snapshots: Int { written.withLock { $0 }.filter { $0.hasPrefix("event: snapshot") }.count }
  var finished: Bool { written.withLock { $0.last == "finish" } }
}

@Suite(.timeLimit(.minutes(1))) struct DashboardStreamTests {
  @Test func aStreamSendsItsSnapshotsThenEnds() async {
    let streams = DashboardStreams(limit: 2, interval: .zero, eventsPerStream: 3)
    let sink = DashboardSink()
    #expect(await streams.run(to: sink, snapshot: { .object(["n": 1]) }))
    let written = sink.written.withLock { $0 }
    #expect(written.first == "head 200 text/event-stream; charset=utf-8")
    #expect(written[1] == "retry: 1000\n\n")
    #expect(sink.snapshots == 3 && sink.finished)
    #expect(streams.active == 0)
  }

  @Test func streamsPastTheLimitAreRefused() {
    let streams = DashboardStreams(limit: 2)
    #expect(streams.admit() && streams.admit())
    #expect(!streams.admit())
    streams.leave()
    #expect(streams.admit())
  }

  @Test func stoppingEndsAWaitingStreamAndRefusesNewOnes() async {
    // An hour between snapshots: only the stop can end this stream.
    let streams = DashboardStreams(limit: 2, interval: .seconds(3600), eventsPerStream: 10)
    let (first, firstArrived) = AsyncStream<Void>.makeStream()
    let sink = DashboardSink { _ in firstArrived.yield() }
    let running = Task { await streams.run(to: sink, snapshot: { .object([:]) }) }
    for await _ in first { break }
    streams.stop()
    #expect(await running.value)
    #expect(sink.snapshots == 1 && sink.finished)
    #expect(!(await streams.run(to: DashboardSink(), snapshot: { .null })))
  }

  @Test func aClientGoneEndsAWaitingStream() async {
    let streams = DashboardStreams(limit: 1, interval: .seconds(3600), eventsPerStream: 10)
    let (first, firstArrived) = AsyncStream<Void>.makeStream()
    let sink = DashboardSink { _ in firstArrived.yield() }
    let running = Task { await streams.run(to: sink, snapshot: { .object([:]) }) }
    for await _ in first { break }
    running.cancel()
    #expect(await running.value)
    #expect(sink.snapshots == 1)
    #expect(streams.active == 0)
  }
}

/// `serve`'s handler stack: metrics in front of the dashboard in front of a gateway.
@Suite(.serialized, .timeLimit(.minutes(1))) struct DashboardHandlerTests {
  static let digest = SHA256.hexDigest(MetricsAdminKeyTests.adminKey)

  struct Louter: TestServer {
    let server: HTTPServer
    let port: Int

    init(_ routes: String) throws {
      let (compiled, diagnostics) = try compileMetricsRoutes(routes)
      guard let table = compiled, !diagnostics.hasErrors else { throw GatewayTestError.routes("\(diagnostics)") }
      let dashboard = Dashboard(files: ["test.toml"])
      let gateway = Gateway(table: table, transport: TransportFactory.make, sink: { dashboard.record($0) })
      let handler = EndpointRouter(
        endpoints: [
          DashboardEndpoint(
            dashboard: dashboard, streams: DashboardStreams(limit: 1, interval: .zero, eventsPerStream: 2),
            loopback: true, server: { gateway.table.server })
        ],
        inner: gateway, inFlight: dashboard)
      server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: handler)
      dashboard.read(
        DashboardSources(
          gauges: { ServerGauges(requestsInFlight: 0, openConnections: 0) }, backends: { gateway.backendStates() },
          routes: { gateway.table.routes.map(\.name) }))
      port = try server.start()
    }

    func stop() { server.stopNow() }

    func send(_ method: String, _ path: String, body: String = "", headers: String = "") async throws -> (
      head: String, body: String
    ) {
      let client = try TestClient(port: port)
      client.send(
        "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
      )
      let text = String(decoding: await client.readToEnd(), as: UTF8.self)
      guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "") }
      return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
    }
  }

  @Test func thePageIsSelfContainedAndNeedsTheAdminKey() async throws {
    let louter = try Louter(MetricsAdminKeyTests.routes(server: "admin_keys = [\"sha256:\(Self.digest)\"]"))
    defer { stopAll(louter) }
    let refused = try await louter.send("GET", "/dashboard")
    #expect(refused.head.hasPrefix("HTTP/1.1 401"))
    #expect(try await louter.send("GET", "/dashboard/events?key=wrong").head.hasPrefix("HTTP/1.1 401"))
    let page = try await louter.send("GET", "/dashboard?key=\(MetricsAdminKeyTests.adminKey)")
    #expect(page.head.hasPrefix("HTTP/1.1 200"))
    #expect(page.head.lowercased().contains("content-type: text/html"))
    #expect(page.head.lowercased().contains("content-security-policy: default-src 'none'"))
    #expect(page.body.contains("new EventSource(source)"))
    // Nothing from elsewhere: no external script, style, font or image.
    for marker in ["http://", "https://", "src=", "<link", "@import", "url("] {
      #expect(!page.body.contains(marker), "\(marker)")
    }
    #expect(try await louter.send("POST", "/dashboard").head.hasPrefix("HTTP/1.1 405"))
  }

  @Test func theEventsStreamSnapshotsWithTheRequestsThatEnded() async throws {
    let louter = try Louter(MetricsAdminKeyTests.routes(server: ""))
    defer { stopAll(louter) }
    let body = #"{"contents":[{"parts":[{"text":"hello"}]}]}"#
    #expect(
      try await louter.send("POST", "/v1beta/models/m:generateContent", body: body).head.hasPrefix("HTTP/1.1 200"))
    let events = try await louter.send("GET", "/dashboard/events")
    #expect(events.head.hasPrefix("HTTP/1.1 200"))
    #expect(events.head.lowercased().contains("content-type: text/event-stream"))
    #expect(events.body.ranges(of: "event: snapshot").count == 2)
    #expect(events.body.contains(#""route":"all""#))
    #expect(events.body.contains(#""chain":[{"backend":"echo","outcome":"ok"}]"#))
  }
}

@Suite(.timeLimit(.minutes(1))) struct StreamsInFlightTests {
  @Test func aStreamedAnswerCountsFromItsHeadToItsEnd() async throws {
    let (release, releaseStream) = AsyncStream<Void>.makeStream()
    let (started, headSent) = AsyncStream<Void>.makeStream()
    let server = HTTPServer(
      configuration: HTTPServerConfiguration(port: 0),
      handler: ClosureHandler { request, responder in
        if request.path == "/stream" {
          try? await responder.startStream(status: 200, headers: [])
          headSent.yield()
          for await _ in release { break }
          try? await responder.finish()
        } else {
          try? await responder.respond(status: 200, headers: [], body: [])
        }
      })
    let port = try server.start()
    defer { server.stopNow() }
    let whole = try TestClient(port: port)
    whole.send("GET /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _ = await whole.readToEnd()
    #expect(server.activeStreamCount == 0)
    let client = try TestClient(port: port)
    client.send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for await _ in started { break }
    #expect(server.activeStreamCount == 1)
    releaseStream.yield()
    _ = await client.readToEnd()
    await server.shutdown(gracePeriod: .seconds(5))
    #expect(server.activeStreamCount == 0)
  }
}

/// What the dashboard shows of a request in flight.
@Suite struct DashboardInFlightTests {
  /// A method is shown up to its 16th character, whatever its bytes (ASCII, two-byte and longer methods alike).
  @Test func methodsAreShownUpToSixteenCharacters() throws {
    let dashboard = Dashboard(files: [], wallClock: { 0 }, clock: { MonotonicInstant(nanoseconds: 0) })
    let methods = [
      "GET", "SIXTEENCHARSLONG", "SEVENTEENCHARSLNG", String(repeating: "Ä", count: 10),
      String(repeating: "É", count: 17),
    ]
    for method in methods { _ = dashboard.begin(method: method, path: "/") }
    let shown = try #require(dashboard.snapshot()["in_flight"]?["requests"]?.arrayValue).compactMap {
      $0["method"]?.stringValue
    }
    #expect(shown.sorted() == methods.map { String($0.prefix(16)) }.sorted())
    #expect(shown.contains("SEVENTEENCHARSLN") && shown.contains(String(repeating: "É", count: 16)))
  }
}
