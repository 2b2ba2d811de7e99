import RouteSpec
import Testing

@testable import RouteCompiler
@testable import RouterRuntime

/// What an exchange keeps around its request, read without copies: the timeline's records against the timings
/// they came from, the snapshot's table methods against the table's, and a decided request translated in place
/// against a translation of its copy. Each over seeded generated input.
@Suite struct RecordLifetimeTests {
  /// The record of each timing as `RequestRecord.apply(.upstream)` made it before the timeline made records
  /// itself: the oracle the new path is held to.
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
      viaTimings.apply(.upstream(timings), started: now)
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
}
