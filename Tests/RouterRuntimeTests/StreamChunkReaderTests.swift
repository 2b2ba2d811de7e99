import RouteSpec
import Testing

@testable import RouterRuntime

/// The stream chunk reader pulled member by member reads every chunk as the closure-per-member reader it replaced
/// did (kept below as it was), and a translator reading chunks from their text still translates as one reading
/// every chunk's tree: over many generated chunks, hostile ones among them.
@Suite struct StreamChunkReaderTests {
  @Test func thePulledReaderReadsEveryChunkAsTheClosureReaderDid() {
    var generator = ChunkGenerator(seed: 0x5EED)
    var read = 0
    for _ in 0..<4000 {
      let text = generator.chunk()
      for includeThoughts in [false, true] {
        for known in [(nil, nil), ("m", "r"), ("m\u{e9}", "r\\")] as [(String?, String?)] {
          let pulled = OpenAIStreamChunk(text: text, includeThoughts: includeThoughts, known: known)
          let legacy = LegacyStreamChunkReader.read(text, includeThoughts: includeThoughts, known: known)
          #expect(pulled == legacy, "\(text)")
          if pulled != nil { read += 1 }
        }
      }
    }
    // Most generated chunks are common ones: the comparison is not only of give-ups.
    #expect(read > 8000)
  }

  @Test func streamsOfGeneratedChunksTranslateAsTheirTrees() {
    var generator = ChunkGenerator(seed: 0xC0FFEE)
    for includeThoughts in [false, true] {
      let options = GeminiResponseOptions(
        includeThoughts: includeThoughts, modelVersion: "fallback-model", responseId: "fallback-id", backend: "b")
      for _ in 0..<300 {
        var direct = OpenAIStreamTranslator(options: options)
        var viaTree = OpenAIStreamTranslator(options: options)
        viaTree.readsChunkBytes = false
        for _ in 0..<8 {
          let text = generator.chunk()
          #expect(direct.translate(text) == viaTree.translate(text), "\(text)")
        }
        #expect(direct.finish() == viaTree.finish())
        #expect(direct.skippedEvents == viaTree.skippedEvents)
      }
    }
  }
}

/// Chunk texts from a fixed seed: mostly well-formed `chat.completion.chunk`s, with escapes, non-ASCII and invalid
/// UTF-8 (decoded as a `String` decodes it), unknown, duplicated and escaped member names, nulls, wrong types,
/// hostile numbers, tool calls, several choices, reasoning, usage, errors and the odd truncation.
struct ChunkGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  private mutating func next(_ bound: Int) -> Int {
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

/// The stream chunk reader as it was before it pulled members (a closure per member and container), kept to
/// compare the new one with.
enum LegacyStreamChunkReader {
  static func read(_ text: String, includeThoughts: Bool, known: (model: String?, id: String?))
    -> OpenAIStreamChunk?
  {
    try? JSONReader.read(text) { (reader) throws(JSONParseError) in
      try readChunk(&reader, includeThoughts: includeThoughts, known: known)
    }
  }

  static func giveUp(_ reader: JSONReader) -> JSONParseError { reader.error("not a common chunk") }

  static func readChunk(
    _ reader: inout JSONReader, includeThoughts: Bool, known: (model: String?, id: String?)
  ) throws(JSONParseError) -> OpenAIStreamChunk {
    guard reader.next == .object else { throw giveUp(reader) }
    var chunk = OpenAIStreamChunk()
    var envelope = LegacyEnvelope(known: known)
    var seen = MembersReadOnce()
    try reader.forEachMember { (reader, key) throws(JSONParseError) in
      switch key {
      case "choices":
        try seen.first(LegacyEnvelope.firstFreeMember, in: reader)
        guard reader.next == .array else {
          try reader.skipValue()
          return
        }
        var choices: [OpenAIStreamChunk.Choice] = []
        try reader.forEachElement { (reader) throws(JSONParseError) in
          choices.append(try readChoice(&reader, includeThoughts: includeThoughts))
        }
        chunk.choices = choices
      default: if try !envelope.read(key, &reader, seen: &seen) { try reader.skipValue() }
      }
    }
    (chunk.model, chunk.id, chunk.usage) = (envelope.model, envelope.id, envelope.usage)
    return chunk
  }

  static func readChoice(_ reader: inout JSONReader, includeThoughts: Bool) throws(JSONParseError)
    -> OpenAIStreamChunk.Choice
  {
    guard reader.next == .object else { throw giveUp(reader) }
    var choice = OpenAIStreamChunk.Choice()
    var seen = MembersReadOnce()
    try reader.forEachMember { (reader, key) throws(JSONParseError) in
      switch key {
      case "index":
        try seen.first(0, in: reader)
        choice.index = try reader.readValue().clampedInteger(in: OpenAIToGemini.candidateIndexRange)
      case "finish_reason":
        try seen.first(1, in: reader)
        choice.finishReason = try reader.readStringValue()
      case "delta":
        try seen.first(2, in: reader)
        try readDelta(&reader, into: &choice, includeThoughts: includeThoughts)
      default: try reader.skipValue()
      }
    }
    return choice
  }

  static func readDelta(_ reader: inout JSONReader, into choice: inout OpenAIStreamChunk.Choice, includeThoughts: Bool)
    throws(JSONParseError)
  {
    let delta = try LegacyMessageFields(&reader, includeThoughts: includeThoughts)
    choice.text = delta.content?.stringValue ?? ""
    choice.refusal = delta.refusal
    choice.reasoning = delta.reasoning
  }
}

/// What a byte reader takes from an answer's `message` or a stream chunk's `delta` (the same members), read as
/// the tree reads them; it gives up on tool calls (an array of them: the tree's way handles those) and on
/// anything that is not an object.
struct LegacyMessageFields {
  /// `content` as sent, nil when absent.
  var content: JSONValue?
  /// `refusal` when it is a string, else empty.
  var refusal = ""
  /// The reasoning text to forward (``OpenAIToGemini/reasoningText(_:)``), empty unless thoughts are forwarded.
  var reasoning = ""

  init(_ reader: inout JSONReader, includeThoughts: Bool) throws(JSONParseError) {
    guard reader.next == .object else { throw reader.error("not an object") }
    var seen = MembersReadOnce()
    var content: JSONValue?
    var refusal = ""
    var reasoning: [JSONMember] = []
    try reader.forEachMember { (reader, key) throws(JSONParseError) in
      switch key {
      case "content":
        try seen.first(0, in: reader)
        content = try reader.readValue()
      case "refusal":
        try seen.first(1, in: reader)
        refusal = try reader.readStringValue() ?? ""
      case "tool_calls":
        try seen.first(2, in: reader)
        if reader.next == .array { throw reader.error("tool calls") }
        try reader.skipValue()
      case "reasoning_content", "reasoning":
        try seen.first(key == "reasoning" ? 4 : 3, in: reader)
        let value = try reader.readValue()
        if includeThoughts { reasoning.append(JSONMember(key.text, value)) }
      default: try reader.skipValue()
      }
    }
    self.content = content
    self.refusal = refusal
    if includeThoughts { self.reasoning = OpenAIToGemini.reasoningText(.object(reasoning)) ?? "" }
  }
}

/// The top-level members an OpenAI answer and a stream chunk share, for their byte readers: an `error`, or an
/// `object` of `"error"`, gives reading up (the tree's way maps errors); `model` and `id` when strings, and
/// `usage` as sent.
struct LegacyEnvelope {
  var model: String?
  var id: String?
  var usage: JSONValue?
  /// The `model` and `id` a stream's previous chunk had: the same value again is taken as those, compared as
  /// bytes and not made a new `String` (``JSONReader/readStringValue(reusing:)``).
  var known: (model: String?, id: String?) = (nil, nil)

  /// The bit of ``MembersReadOnce`` for `usage`.
  static let usageMember: UInt8 = 3
  /// The first member bit of ``MembersReadOnce`` left for the caller's own members.
  static let firstFreeMember: UInt8 = 4

  /// Reads `key`'s value when it is one of these members; false, reading nothing, when it is not.
  mutating func read(_ key: JSONKey, _ reader: inout JSONReader, seen: inout MembersReadOnce)
    throws(JSONParseError) -> Bool
  {
    switch key {
    case "error": throw reader.error("an error")
    case "object":
      try seen.first(0, in: reader)
      if try reader.readString(is: "error") { throw reader.error("an error") }
    case "model":
      try seen.first(1, in: reader)
      model = try reader.readStringValue(reusing: known.model)
    case "id":
      try seen.first(2, in: reader)
      id = try reader.readStringValue(reusing: known.id)
    case "usage":
      try seen.first(Self.usageMember, in: reader)
      usage = try reader.readValue()
    default: return false
    }
    return true
  }
}
