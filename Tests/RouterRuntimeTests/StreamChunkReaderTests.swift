import RouteSpec
import Testing

@testable import RouterRuntime

/// A translator reading chunks from their text (pulled member by member) translates as one reading every chunk's
/// tree: over many generated chunks, hostile ones among them.
@Suite struct StreamChunkReaderTests {
  @Test func streamsOfGeneratedChunksTranslateAsTheirTrees() {
    var generator = ChunkGenerator(seed: 0xC0FFEE)
    var common = 0
    for includeThoughts in [false, true] {
      let options = GeminiResponseOptions(
        includeThoughts: includeThoughts, modelVersion: "fallback-model", responseId: "fallback-id", backend: "b")
      for _ in 0..<300 {
        var direct = OpenAIStreamTranslator(options: options)
        var viaTree = OpenAIStreamTranslator(options: options)
        viaTree.readsChunkBytes = false
        for _ in 0..<8 {
          let text = generator.chunk()
          if OpenAIStreamChunk(text: text, includeThoughts: includeThoughts, known: (nil, nil)) != nil { common += 1 }
          #expect(direct.translate(text) == viaTree.translate(text), "\(text)")
        }
        #expect(direct.finish() == viaTree.finish())
        #expect(direct.skippedEvents == viaTree.skippedEvents)
      }
    }
    // About a third of the generated chunks are common ones, read from their bytes: the comparison is not only of
    // give-ups.
    #expect(common > 1200, "\(common)")
  }
}

/// Chunk texts from a fixed seed: mostly well-formed `chat.completion.chunk`s, with escapes, non-ASCII and invalid
/// UTF-8 (decoded as a `String` decodes it), unknown, duplicated and escaped member names, nulls, wrong types,
/// hostile numbers, tool calls, several choices, reasoning, usage, errors and the odd truncation.
struct ChunkGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  /// A number below `bound`, from the seed (also for other generators of stream text).
  mutating func next(_ bound: Int) -> Int {
    // SplitMix64: the same chunks on every run.
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    mixed ^= mixed >> 31
    return Int(mixed % UInt64(bound))
  }

  private mutating func pick(_ choices: [String]) -> String { choices[next(choices.count)] }

  private static let pieces = [
    "a", "Hello", " world", "h\u{e9}llo", "\u{1F600}", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00",
    "\\ud800", "\\udc00x", "\\t", "<b>", "\u{7F}", "\u{2028}", "\\u0000", "", "\u{FFFD}", "\\u001f", "\\b\\f\\r",
  ]

  private mutating func string() -> String {
    var body = ""
    for _ in 0..<next(5) { body += pick(Self.pieces) }
    // A raw control byte: refused by the parser.
    if next(40) == 0 { body += "\u{01}" }
    return "\"" + body + "\""
  }

  private mutating func number() -> String {
    pick(["0", "1", "-1", "7", "1.5", "-0", "1e2", "1e400", "123456789012345678", "12345678901234567890123", "01"])
  }

  private mutating func anyValue(depth: Int = 0) -> String {
    switch next(depth > 2 ? 5 : 7) {
    case 0: return "null"
    case 1: return pick(["true", "false"])
    case 2: return number()
    case 3, 4: return string()
    case 5: return "[" + (0..<next(3)).map { _ in anyValue(depth: depth + 1) }.joined(separator: ",") + "]"
    default:
      return "{" + (0..<next(3)).map { _ in string() + ":" + anyValue(depth: depth + 1) }.joined(separator: ",")
        + "}"
    }
  }

  /// An object of the members `members` gives (a name and a value each), sometimes one repeated, sometimes an
  /// unknown one added, in a shuffled order, with or without whitespace.
  private mutating func object(_ members: [(String, String)]) -> String {
    var members = members
    if next(8) == 0, let first = members.first { members.append((first.0, anyValue())) }
    if next(4) == 0 { members.append((pick(["x", "system_fingerprint", "logprobs", "\\u0078"]), anyValue())) }
    for index in members.indices.reversed() where index > 0 { members.swapAt(index, next(index + 1)) }
    let space = next(6) == 0 ? " " : ""
    return "{" + space + members.map { "\"\($0.0)\"\(space):\(space)\($0.1)" }.joined(separator: "," + space) + "}"
  }

  /// A member name, now and then spelled with an escape or a different case.
  private mutating func name(_ name: String) -> String {
    switch next(30) {
    case 0: "\\u00" + String(name.utf8.first ?? 0, radix: 16) + name.dropFirst()
    case 1: name.uppercased()
    default: name
    }
  }

  /// `value`, or now and then any value in its place.
  private mutating func maybe(_ value: String) -> String { next(10) == 0 ? anyValue() : value }

  private mutating func toolCalls() -> String {
    "["
      + (0..<next(3)).map { _ in
        object([
          ("index", number()), ("id", string()),
          ("function", object([("name", string()), ("arguments", next(4) == 0 ? anyValue() : string())])),
        ])
      }.joined(separator: ",") + "]"
  }

  private mutating func delta() -> String {
    var members: [(String, String)] = []
    if next(2) == 0 { members.append((name("role"), "\"assistant\"")) }
    if next(5) != 0 { members.append((name("content"), maybe(string()))) }
    if next(8) == 0 { members.append((name("refusal"), maybe(string()))) }
    if next(6) == 0 { members.append((name("reasoning_content"), maybe(string()))) }
    if next(6) == 0 { members.append((name("reasoning"), maybe(string()))) }
    if next(12) == 0 { members.append((name("tool_calls"), next(3) == 0 ? anyValue() : toolCalls())) }
    return object(members)
  }

  private mutating func choice(_ position: Int) -> String {
    var members: [(String, String)] = []
    if next(6) != 0 { members.append((name("index"), next(6) == 0 ? anyValue() : String(position))) }
    if next(10) != 0 { members.append((name("delta"), next(15) == 0 ? anyValue() : delta())) }
    if next(3) != 0 {
      members.append(
        (name("finish_reason"), next(3) == 0 ? pick(["\"stop\"", "\"length\"", "\"tool_calls\""]) : "null"))
    }
    return next(40) == 0 ? anyValue() : object(members)
  }

  /// One chunk's text.
  mutating func chunk() -> String {
    var members: [(String, String)] = []
    if next(8) != 0 { members.append((name("id"), maybe(pick(["\"r\"", "\"r\\\\\"", "\"r2\""])))) }
    if next(8) != 0 { members.append((name("model"), maybe(pick(["\"m\"", "\"m\\u00e9\"", "\"m\u{e9}\""])))) }
    if next(4) != 0 { members.append((name("object"), pick(["\"chat.completion.chunk\"", "\"error\"", "1"]))) }
    if next(3) != 0 { members.append(("created", number())) }
    if next(10) != 0 {
      members.append(
        (
          name("choices"),
          next(15) == 0 ? anyValue() : "[" + (0..<next(4)).map { choice($0) }.joined(separator: ",") + "]"
        ))
    }
    if next(6) == 0 {
      members.append(
        (name("usage"), maybe(object([("prompt_tokens", number()), ("completion_tokens", number())]))))
    }
    if next(60) == 0 { members.append((name("error"), object([("message", string())]))) }
    var text = object(members)
    switch next(60) {
    case 0: text = String(text.prefix(next(text.count + 1)))
    case 1: text = " \n" + text + "\t "
    case 2: text += "x"
    default: break
    }
    // Invalid UTF-8, as the SSE reader hands it on: decoded with replacement characters.
    if next(30) == 0 {
      var bytes = Array(text.utf8)
      bytes.insert(pick(["\u{80}", "\u{C3}", "\u{FF}"]).utf8.first ?? 0x80, at: next(bytes.count + 1))
      return String(decoding: bytes, as: UTF8.self)
    }
    return text
  }
}
