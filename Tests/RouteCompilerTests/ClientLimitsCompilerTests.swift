import RouteCompiler
import RouteSpec
import Testing

/// A client's `limits` table: decoded into the compiled client, and every malformed value refused with a
/// diagnostic that points at it.
@Suite struct ClientLimitsCompilerTests {
  static let key = "keys = [\"sha256:67b6d12b7491fbf889be4a963bd78808c087be7925130b3b1ce4e7c12858a205\"]\n"
  static let rest = "[backends.demo]\nprotocol = \"echo\"\n[[routes]]\nbackends = [\"demo\"]\n"

  static func client(_ limits: String) -> Pipeline {
    Pipeline("[clients.team]\n" + key + limits + "\n" + rest)
  }

  @Test func everyLimitReachesTheCompiledClient() {
    let pipeline = Self.client(
      "limits = { requests_per_minute = 60, requests_per_hour = 1_000, requests_per_day = 10_000, "
        + "input_tokens_per_day = 2_000_000, output_tokens_per_day = 500_000, concurrent_streams = 4 }")
    #expect(pipeline.diagnostics.isEmpty, "\(pipeline.rendered)")
    let limits = pipeline.table?.clients.first?.limits
    #expect(limits?[.requestsPerMinute] == 60)
    #expect(limits?[.requestsPerHour] == 1_000)
    #expect(limits?[.requestsPerDay] == 10_000)
    #expect(limits?[.inputTokensPerDay] == 2_000_000)
    #expect(limits?[.outputTokensPerDay] == 500_000)
    #expect(limits?[.concurrentStreams] == 4)
    #expect(limits?.ordered.map(\.kind) == ClientLimitKind.allCases)
  }

  @Test func aClientWithoutLimitsHasNone() {
    let pipeline = Self.client("")
    #expect(pipeline.table?.clients.first?.limits.isEmpty == true)
  }

  @Test func theSubTableSpellingIsTheSame() {
    let pipeline = Self.client("[clients.team.limits]\nconcurrent_streams = 2")
    #expect(pipeline.table?.clients.first?.limits == ClientLimits([.concurrentStreams: 2]))
  }

  @Test(arguments: [
    ("requests_per_minute = 0", "allowed: 1 to 1000000000"),
    ("requests_per_day = -5", "allowed: 1 to 1000000000"),
    ("requests_per_hour = 1_000_000_001", "allowed: 1 to 1000000000"),
    ("output_tokens_per_day = 1_000_000_000_001", "allowed: 1 to 1000000000000"),
    ("concurrent_streams = 100_001", "allowed: 1 to 100000"),
  ])
  func outOfRangeValuesAreRefusedAtTheValue(_ limit: String, _ label: String) {
    let pipeline = Self.client("limits = { \(limit) }")
    let diagnostic = pipeline.diagnostics.first
    #expect(pipeline.codes == ["L0206"], "\(pipeline.rendered)")
    #expect(diagnostic?.primary?.message == label)
    #expect(diagnostic?.message.hasSuffix("in the limits of [clients.team] is out of range") == true)
    let column = "limits = { ".count + limit.split(separator: "=")[0].count + "= ".count + 1
    #expect(pipeline.rendered.contains("a.toml:3:\(column)"), "\(pipeline.rendered)")
    #expect(pipeline.table == nil)
  }

  @Test func anUnknownLimitIsRefusedWithTheClosestName() {
    let pipeline = Self.client("limits = { requests_per_minit = 60 }")
    #expect(pipeline.codes == ["L0201"], "\(pipeline.rendered)")
    #expect(pipeline.diagnostics.first?.message == "unknown key 'requests_per_minit' in the limits of [clients.team]")
    #expect(pipeline.diagnostics.first?.help == "did you mean 'requests_per_minute'?")
  }

  @Test(arguments: ["limits = { concurrent_streams = \"4\" }", "limits = { concurrent_streams = 4.0 }", "limits = 4"])
  func aValueOfTheWrongTypeIsRefused(_ text: String) {
    let pipeline = Self.client(text)
    #expect(pipeline.codes == ["L0202"], "\(pipeline.rendered)")
  }

  @Test(arguments: [
    ("requests_per_minute = 100, requests_per_hour = 50", "requests_per_minute", "requests_per_hour = 50"),
    ("requests_per_minute = 100, requests_per_day = 100", "requests_per_minute", "requests_per_day = 100"),
    ("requests_per_hour = 500, requests_per_day = 400", "requests_per_hour", "requests_per_day = 400"),
    (
      "requests_per_minute = 90, requests_per_hour = 80, requests_per_day = 70", "requests_per_minute",
      "requests_per_day = 70"
    ),
  ])
  func aRequestLimitAboveALongerWindowsLimitIsAWarning(_ limits: String, _ shadowed: String, _ reason: String) {
    let pipeline = Self.client("limits = { \(limits) }")
    let warning = pipeline.diagnostics.first { $0.code == .limitNeverApplies }
    #expect(warning?.severity == .warning)
    #expect(warning?.message.hasPrefix(shadowed) == true, "\(pipeline.rendered)")
    #expect(warning?.message.hasSuffix("\(reason) is reached first") == true, "\(pipeline.rendered)")
    #expect(pipeline.table != nil)
  }

  @Test func nestedLimitsThatEachCanBindAreClean() {
    let pipeline = Self.client(
      "limits = { requests_per_minute = 10, requests_per_hour = 300, requests_per_day = 2000 }")
    #expect(pipeline.diagnostics.isEmpty, "\(pipeline.rendered)")
  }
}
