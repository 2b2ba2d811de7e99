import Foundation
import RouteCompiler
import RouteSpec
import Testing

/// The route index against the linear scan over generated tables and requests: model names and globs that share
/// or miss first bytes, ASCII and not, and Unicode spellings that are canonically equivalent to other bytes.
@Suite struct RequestCostRouteIndexTests {
  /// A small deterministic generator (a 64-bit LCG's high bits), so that a failure replays.
  private struct Random: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state ^ (state >> 29)
    }
  }

  /// Pieces of model names: plain ASCII, bytes near the bit sets' edges (`>` 62, `@` 64, `z` 122; `?` and `}`
  /// are refused in globs), non-ASCII, and pairs that are canonically equivalent (Å as one scalar, as the
  /// Angstrom sign, as A and a ring; K and the Kelvin sign).
  static let pieces = [
    "gemini", "gpt", "g", "-", "2.5", "pro", "a", "b", "x", ">", "@", "z", "~", "é", "e\u{301}", "\u{C5}",
    "\u{212B}", "A\u{30A}", "A", "K", "\u{212A}", "日本", ":", "/",
  ]

  private static func name(_ random: inout Random) -> String {
    var text = ""
    for _ in 0..<Int.random(in: 0...3, using: &random) { text += pieces.randomElement(using: &random) ?? "" }
    return text
  }

  private static func pattern(_ random: inout Random) -> String {
    let text = name(&random)
    switch Int.random(in: 0..<4, using: &random) {
    case 0: return text
    case 1: return text + "*"
    case 2: return "*" + text
    default: return text + "*" + name(&random)
    }
  }

  /// A TOML string of `text` (no piece holds a quote, a backslash or a control character).
  private static func tomlString(_ text: String) -> String { "\"" + text + "\"" }

  private static func table(_ random: inout Random) -> String {
    // The clients of the evaluation tests' table, without its routes.
    let config = RouteEvaluationTests.config
    var text = config.components(separatedBy: "[[routes]]").first ?? ""
    for _ in 0..<Int.random(in: 1...8, using: &random) {
      var fields: [String] = []
      switch Int.random(in: 0..<4, using: &random) {
      case 0: fields.append("client = \"team-a\"")
      case 1: fields.append("client = \"team-b\"")
      case 2: fields.append("client = \"*\"")
      default: break
      }
      let models = (0..<Int.random(in: 0...3, using: &random)).map { _ in tomlString(pattern(&random)) }
      if !models.isEmpty { fields.append("model = [\(models.joined(separator: ", "))]") }
      if Bool.random(using: &random) { fields.append("stream = \(Bool.random(using: &random))") }
      text += "[[routes]]\n"
      if !fields.isEmpty { text += "match = { \(fields.joined(separator: ", ")) }\n" }
      text += "backends = [\"a\"]\n"
    }
    return text
  }

  @Test func indexAgreesWithLinearScanOnGeneratedTables() {
    var random = Random(state: 0x5EED_C057)
    var compared = 0
    var tables = 0
    while compared < 4000 {
      let text = Self.table(&random)
      guard let table = Pipeline(text).table else { continue }
      tables += 1
      let clients: [Int?] = [nil] + Array(table.clients.indices)
      for _ in 0..<40 {
        let facts = RequestFacts(
          client: clients.randomElement(using: &random) ?? nil, model: Self.name(&random),
          stream: Bool.random(using: &random))
        #expect(
          table.firstMatch(facts) == table.firstMatchLinear(facts),
          "index and linear scan disagree for \(facts.model.unicodeScalars.map(\.value)) in\n\(text)")
        compared += 1
      }
    }
    #expect(tables >= 50)
  }

  /// The cases the first-byte filter must not skip, spelled out.
  @Test func canonicallyEquivalentPrefixesStillMatch() throws {
    for (glob, model) in [
      ("A\u{30A}x*", "\u{212B}xyz"), ("\u{212B}x*", "A\u{30A}xyz"), ("@*", "@1"), (">*", ">"), ("zz*", "zzz"),
    ] {
      let text = """
        [backends.a]
        protocol = "echo"
        [[routes]]
        match = { model = \(Self.tomlString(glob)) }
        backends = ["a"]
        [[routes]]
        backends = ["a"]
        """
      let table = try #require(Pipeline(text).table)
      let facts = RequestFacts(model: model)
      #expect(table.firstMatch(facts) == table.firstMatchLinear(facts))
    }
  }
}
