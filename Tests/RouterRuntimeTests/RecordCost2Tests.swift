import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// The record sink's bookkeeping over a seeded series of generated records: the `/metrics` text and the
/// dashboard's snapshot must stay what the implementation of main 1d097ea rendered for the same series (their
/// digests below were taken from it), whatever caches the record paths keep.
@Suite struct RecordCost2Tests {
  /// The seeded generator's picks: the same series on every platform.
  struct Generator {
    var seeded: SeededGenerator

    init(state: UInt64) { seeded = SeededGenerator(state: state) }

    mutating func next() -> UInt64 { seeded.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func seconds() -> Double { Double(below(400_000)) / 100_000 }
  }

  // Names a record repeats often (the cache's hits), long ones (not small strings), `-` and the empty name
  // (both `none`), and a name equal to another but in other storage (a hit by value, not by identity).
  static let routes = ["chat", "-", "", "a-route-name-longer-than-fifteen", "none", "r2", "images"]
  static let backends = ["static", "pacer", "a-backend-name-longer-than-fifteen", "-", "b", "none"]
  static let clients = ["-", "team", "a-client-name-longer-than-fifteen", "ci"]
  static let modes = ["openai", "gemini", "echo", "local"]
  static let outcomes = ["ok", "503", "connect", "timeout", "busy", "429", "9999", "0", "5xx", "ok"]
  static let statuses = [200, 200, 200, 201, 400, 404, 429, 499, 500, 502, 503, 0, 99, 600, -1]
  static let methods = ["generateContent", "streamGenerateContent", "chat.completions", "-"]
  static let models = ["bench-model", "-", "gemini-2.0-flash-long-model-name", "m"]

  /// A name of `pool`, sometimes rebuilt in fresh storage so that equal names are not always one string.
  static func name(_ pool: [String], _ random: inout Generator) -> String {
    let name = random.pick(pool)
    return random.chance(20) ? String(decoding: Array(name.utf8), as: UTF8.self) : name
  }

  static func record(_ index: Int, _ random: inout Generator, previous: RequestRecord?) -> RequestRecord {
    // Half the records name what the one before named (the same strings), as a steady load does.
    if let previous, random.chance(50) {
      var record = previous
      record.id = "req-\(index)"
      record.status = random.pick(statuses)
      record.total = random.seconds()
      record.timeToFirstToken = random.chance(70) ? random.seconds() : nil
      return record
    }
    var record = RequestRecord(
      id: random.chance(50) ? "r\(index)" : "a-request-id-longer-than-fifteen-\(index)")
    record.route = name(routes, &random)
    record.client = name(clients, &random)
    record.mode = name(modes, &random)
    record.front = random.chance(50) ? .gemini : .openai
    record.method = random.pick(methods)
    record.model = random.pick(models)
    record.status = random.pick(statuses)
    record.total = random.chance(3) ? .infinity : random.seconds()
    record.timeToFirstToken = random.chance(70) ? random.seconds() : nil
    record.inputTokens = random.chance(70) ? random.below(5000) : nil
    record.outputTokens = random.chance(70) ? (random.chance(2) ? Int.max : random.below(5000)) : nil
    record.streamed = random.chance(30)
    record.features = .init(stream: random.chance(30), tools: random.chance(20), images: random.chance(10))
    for _ in 0..<random.below(4) {
      let backend = name(backends, &random)
      record.hops.append(.init(backend: backend, outcome: random.pick(outcomes)))
      if random.chance(80) {
        record.exchanges.append(
          .init(
            backend: random.chance(80) ? backend : name(backends, &random),
            latency: random.chance(80) ? random.seconds() : nil, open: random.seconds() / 4))
      }
    }
    return record
  }

  /// FNV-1a of a text's bytes.
  static func digest(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
  }

  /// The metrics text and the dashboard snapshot after `count` records of `seed`.
  static func render(seed: UInt64, count: Int) -> (metrics: String, dashboard: String) {
    var random = Generator(state: seed)
    let metrics = GatewayMetrics(wallClock: { 1000 })
    // Each reading of the dashboard's clock moves it on a little: records fall in many seconds.
    let time = Mutex(1_000_000.0)
    let dashboard = Dashboard(
      files: ["routes/a.toml"],
      wallClock: {
        time.withLock {
          $0 += 0.07
          return $0
        }
      }, clock: { .now })
    dashboard.read(
      DashboardSources(
        gauges: { ServerGauges(requestsInFlight: 0, openConnections: 0) },
        backends: { [BackendState(name: "static", health: BackendHealth(limit: 4).snapshot())] },
        routes: { ["chat", "r2"] }))
    var previous: RequestRecord?
    for index in 0..<count {
      let record = Self.record(index, &random, previous: previous)
      metrics.record(record)
      dashboard.record(record)
      previous = record
    }
    return (
      metrics.exposition(process: ProcessFigures(residentBytes: nil, openDescriptors: nil)),
      dashboard.snapshot().serialized()
    )
  }

  @Test(arguments: [
    (UInt64(1), 2500, UInt64(15_226_698_587_614_122_558), UInt64(9_093_850_931_254_657_007)),
    (UInt64(0xC0FFEE), 2000, UInt64(12_628_097_970_401_170_553), UInt64(8_846_651_279_497_725_037)),
  ])
  func theRenderedMetricsAndDashboardStayAsMainRenderedThem(
    seed: UInt64, count: Int, metricsDigest: UInt64, dashboardDigest: UInt64
  ) {
    let (metrics, dashboard) = Self.render(seed: seed, count: count)
    #expect(Self.digest(metrics) == metricsDigest, "metrics \(metrics.utf8.count) bytes")
    #expect(Self.digest(dashboard) == dashboardDigest, "dashboard \(dashboard.utf8.count) bytes")
  }

  /// The same records in their order and reversed give the same series: the metrics sum, so order cannot change
  /// them, while which records find their names remembered from the record before changes completely.
  @Test(arguments: [UInt64(7), UInt64(0xBEEF)])
  func theSeriesDoNotDependOnWhichNamesWereRemembered(seed: UInt64) {
    var random = Generator(state: seed)
    var records: [RequestRecord] = []
    for index in 0..<2000 { records.append(Self.record(index, &random, previous: records.last)) }
    func series(_ records: [RequestRecord]) -> [Substring] {
      let metrics = GatewayMetrics(wallClock: { 1000 })
      for record in records { metrics.record(record) }
      let text = metrics.exposition(process: ProcessFigures(residentBytes: nil, openDescriptors: nil))
      // A family's series come in the order their names were first seen: compared as a set of lines. Sums of
      // seconds are left out: floating-point addition in another order rounds differently.
      return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("_sum{") }.sorted()
    }
    let forward = series(records)
    #expect(forward.count > 100)
    #expect(forward == series(records.reversed()))
  }
}
