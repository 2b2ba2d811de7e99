import RouteSpec
import Testing

@testable import RouteCompiler
@testable import RouterRuntime

/// What an exchange keeps around its request, read without copies: the timeline's records against the timings
/// they came from, the snapshot's table methods against the table's, and a decided request translated in place
/// against a translation of its copy. Each over seeded generated input.
@Suite struct RecordLifetimeTests {
  /// The record of each timing as the request record made it before the timeline made records itself: the
  /// oracle the new path is held to.
  static func oracle(_ timings: [UpstreamTiming]) -> [RequestRecord.UpstreamExchange] {
    timings.map { timing in
      RequestRecord.UpstreamExchange(
        backend: timing.backend, latency: timing.answered.map { timing.sent.seconds(to: $0) },
        open: timing.sent.seconds(to: timing.ended))
    }
  }

  @Test func theTimelinesRecordsAreItsTimingsInSendOrderUpToItsLimit() async throws {
    var random = SeededGenerator(state: 2026)
    let request = try UpstreamTimingTests.request()
    for _ in 0..<600 {
      let timeline = UpstreamTimeline()
      // Across the limit now and then: most requests make one exchange, a hostile chain many.
      let count =
        Bool.random(using: &random) ? Int.random(in: 0...3, using: &random) : Int.random(in: 0...70, using: &random)
      var sent: [String] = []
      for index in 0..<count {
        let name = "b\(index)-\(Int.random(in: 0..<4, using: &random))"
        sent.append(name)
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
          _ = try? await timeline.send(request, through: UpstreamTimingTests.Refusing(), backend: name)
        case 1:
          let ended = UpstreamBody(chunks: [Array("{}".utf8)])
          _ = try? await timeline.send(request, through: UpstreamTimingTests.Answering(body: ended), backend: name)
        default:
          let open = UpstreamBody()
          _ = try? await timeline.send(request, through: UpstreamTimingTests.Answering(body: open), backend: name)
        }
      }
      let now = MonotonicInstant.now + .seconds(Int64.random(in: 1...100, using: &random))
      let timings = timeline.timings(now: now)
      #expect(timings.map(\.backend) == Array(sent.prefix(UpstreamTimeline.limit)))
      let exchanges = timeline.exchanges(now: now)
      #expect(exchanges == Self.oracle(timings))

      var viaTimings = RequestRecord(id: "r")
      viaTimings.apply(.exchanges(timings.map(RequestRecord.UpstreamExchange.init)), started: now)
      var viaExchanges = RequestRecord(id: "r")
      viaExchanges.apply(.exchanges(exchanges), started: now)
      #expect(viaTimings.exchanges == viaExchanges.exchanges)
      #expect(viaTimings.exchanges == Self.oracle(timings))
    }
  }

  @Test func anEmptyTimelineHasNoRecords() {
    let timeline = UpstreamTimeline()
    #expect(timeline.exchanges(now: .now).isEmpty)
    #expect(timeline.timings(now: .now).isEmpty)
  }

  static let keys = ["team-key", "other-key", "", "team-key ", "TEAM-KEY", "x"]

  static let routes = """
    [clients.team]
    keys = ["sha256:\(SHA256.hexDigest("team-key"))"]
    [clients.other]
    keys = ["sha256:\(SHA256.hexDigest("other-key"))"]
    [backends.demo]
    protocol = "echo"
    [[routes]]
    name = "flash"
    match = { model = "gemini-*-flash", client = "team" }
    backends = ["demo"]
    [[routes]]
    name = "stream"
    match = { stream = true }
    backends = ["demo"]
    [[routes]]
    name = "rest"
    match = { model = "m*" }
    backends = ["demo"]
    """

  @Test func theSnapshotAnswersAsItsTableDoes() throws {
    let table = try LimitedGateway.compile(Self.routes)
    let snapshot = Gateway.Snapshot(table: table, backends: [])
    var random = SeededGenerator(state: 9)
    let models = ["gemini-2.5-flash", "gemini-x-flash", "m", "mini", "other", ""]
    for _ in 0..<3000 {
      let key = Bool.random(using: &random) ? nil : Self.keys.randomElement(using: &random)
      let authentication = snapshot.authenticate(key: key)
      #expect(authentication == table.authenticate(key: key))
      let facts = RequestFacts(
        client: authentication.clientIndex, key: key, model: models.randomElement(using: &random) ?? "",
        stream: Bool.random(using: &random), tools: Bool.random(using: &random))
      let decision = String(describing: snapshot.decide(facts, authentication: authentication))
      #expect(decision == String(describing: table.decide(facts, authentication: authentication)))
    }
  }

  @Test func aDecodedRequestTranslatesInPlaceAsItsCopyDoes() throws {
    var random = SeededGenerator(state: 77)
    let plan = ForwardPlan(
      route: 0, model: "sent", systemPrompt: nil, generation: [], chain: [], fallbackOn: [], retry: .never,
      continueOnBreak: false)
    let call = try #require(try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/m:generateContent"))
    var translated = 0
    for _ in 0..<8000 {
      let body = DecodeShortcutTests.shaped(&random, depth: 3)
      let stream = Bool.random(using: &random)
      var forwarding = Forwarding(call: call, plan: plan, body: body, key: nil, stream: stream)
      var dialect: OpenAIDialect = Bool.random(using: &random) ? .openAI : .generic
      dialect.supportsStreamOptions = Bool.random(using: &random)
      #expect(try Exchange.translateDecoded(forwarding, dialect: dialect) == nil)
      guard let decoded = try? GeminiRequest.decode(body) else { continue }
      forwarding.decoded = decoded
      let copy = decoded
      let inPlace = Result { () throws(GeminiRequestError) in
        try Exchange.translateDecoded(forwarding, dialect: dialect)
      }
      let ofCopy = Result { () throws(GeminiRequestError) in
        try GeminiToOpenAI.translate(copy, model: "sent", dialect: dialect, stream: stream)
      }
      #expect(inPlace == ofCopy.map { Optional($0) }, "\(body)")
      if case .success(.some) = inPlace { translated += 1 }
    }
    #expect(translated > 400)
  }

  static let answerRoutes = """
    [backends.demo]
    protocol = "echo"
    [[routes]]
    name = "held"
    match = { model = "held*" }
    deny = "held back"
    [[routes]]
    name = "echoed"
    match = { model = "e*" }
    backends = ["demo"]
    """

  static let namingHeaders: Set = ["x-request-id", "x-louter-route", "x-louter-backend", "x-louter-warning"]

  /// The header lines of an answer's head, in order, as (lowercased name, value).
  static func headerLines(_ head: String) -> [(String, String)] {
    head.split(separator: "\r\n").dropFirst().compactMap { line in
      guard let colon = line.firstIndex(of: ":") else { return nil }
      return (line[..<colon].lowercased(), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
    }
  }

  @Test(.timeLimit(.minutes(1))) func everyAnswerNamesTheRequestThenItsRouteThenItsBackend() async throws {
    let louter = try LimitedGateway(Self.answerRoutes, clock: ManualWallClock(ClientLimiterTests.midnight))
    defer { stopAll(louter) }
    var random = SeededGenerator(state: 5)
    var warned = 0
    let models = ["e1", "echo-x", "held", "held-2", "nothing", "BAD%20MODEL"]
    let bodies = [
      #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#, "{", "[]", #"{"contents":7}"#,
      #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"topK":3,"seed":1}}"#,
    ]
    let echo = try #require(louter.gateway.table.backends.first)
    for _ in 0..<120 {
      let model = models.randomElement(using: &random) ?? ""
      let method = Bool.random(using: &random) ? "generateContent" : "streamGenerateContent?alt=sse"
      let path = "/v1beta/models/\(model):\(method)"
      let client = try TestClient(port: louter.port)
      let body = bodies.randomElement(using: &random) ?? ""
      client.send(
        "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
      )
      let text = String(decoding: await client.readToEnd(), as: UTF8.self)
      let record = try #require(await louter.nextRecord())
      let head = String(text[..<(text.firstRange(of: "\r\n\r\n")?.lowerBound ?? text.endIndex)])
      let named = Self.headerLines(head).filter { Self.namingHeaders.contains($0.0) }
      // The oracle: the request's id, its route when one matched, then the backend that answered.
      var expected = [("x-request-id", record.id)]
      if record.route != "-" { expected.append(("x-louter-route", record.route)) }
      if let hop = record.hops.last, hop.outcome == "ok" {
        expected.append(("x-louter-backend", hop.backend))
        // The translation's own warnings, translated again here.
        let request = try GeminiRequest.decode(try JSONParser.parse(Array(body.utf8)))
        let translation = try GeminiToOpenAI.translate(
          request, model: model, dialect: Exchange.dialect(for: echo), stream: method.hasPrefix("stream"))
        if let warning = translation.warnings.headerValue { expected.append(("x-louter-warning", warning)) }
        warned += translation.warnings.headerValue == nil ? 0 : 1
      }
      #expect(named.map(\.0) == expected.map(\.0), "\(head)")
      #expect(named.map(\.1) == expected.map(\.1), "\(head)")
    }
    #expect(warned > 5)
  }
}
