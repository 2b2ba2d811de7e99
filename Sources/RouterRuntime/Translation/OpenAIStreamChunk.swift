import RouteSpec

/// What ``OpenAIStreamTranslator`` takes from one `chat.completion.chunk`, read either from the chunk's tree or,
/// for the common chunk, from its bytes without a tree.
///
/// Both readers take the first of duplicated members, as the tree does; the byte reader gives up (nil) on
/// anything it is not sure of (an error, tool calls, a member it reads twice, a choice or delta that is not an
/// object), and the translator then parses the tree, so the two can only differ in speed.
struct OpenAIStreamChunk: Sendable, Equatable {
  struct Choice: Sendable, Equatable {
    /// The choice's own index, clamped; nil when it has none (its position stands in).
    var index: Int64?
    /// The reasoning text to forward (empty unless thoughts are forwarded).
    var reasoning = ""
    var text = ""
    var refusal = ""
    /// The delta's tool-call fragments, when it has an array of them.
    var toolCalls: [JSONValue]?
    var finishReason: String?
  }

  /// The chunk's `model` and `id` when they are strings.
  var model: String?
  var id: String?
  /// The chunk's `usage` member, as sent.
  var usage: JSONValue?
  /// The choices; nil when `choices` is missing or not an array.
  var choices: [Choice]?

  private init() {}

  /// Reads a parsed chunk (not an error: the translator maps those from the tree).
  init(_ chunk: JSONValue, includeThoughts: Bool) {
    model = chunk["model"]?.stringValue
    id = chunk["id"]?.stringValue
    usage = chunk["usage"]
    guard case .array(let elements) = chunk["choices"] ?? .null else { return }
    choices = elements.map { choice in
      let delta = choice["delta"] ?? .object([])
      var toolCalls: [JSONValue]?
      if case .array(let fragments) = delta["tool_calls"] ?? .null { toolCalls = fragments }
      return Choice(
        index: choice["index"]?.clampedInteger(in: OpenAIToGemini.candidateIndexRange),
        reasoning: includeThoughts ? OpenAIToGemini.reasoningText(delta) ?? "" : "",
        text: delta["content"]?.stringValue ?? "", refusal: delta["refusal"]?.stringValue ?? "",
        toolCalls: toolCalls, finishReason: choice["finish_reason"]?.stringValue)
    }
  }

  /// Reads a common chunk from its text without building its tree; nil when it is an error, carries tool calls,
  /// is not JSON, or is not surely read as the tree reads it. `known` are the `model` and `id` the stream kept so
  /// far: the same values again are taken without making new strings.
  init?(text: String, includeThoughts: Bool, known: (model: String?, id: String?) = (nil, nil)) {
    let read = try? JSONReader.read(text) { (reader) throws(JSONParseError) in
      try Self.readChunk(&reader, includeThoughts: includeThoughts, known: known)
    }
    guard let read else { return nil }
    self = read
  }

  private static func giveUp(_ reader: JSONReader) -> JSONParseError { reader.error("not a common chunk") }

  private static func readChunk(
    _ reader: inout JSONReader, includeThoughts: Bool, known: (model: String?, id: String?)
  ) throws(JSONParseError) -> OpenAIStreamChunk {
    guard reader.next == .object else { throw giveUp(reader) }
    var chunk = OpenAIStreamChunk()
    var envelope = OpenAIEnvelope(known: known)
    var seen = MembersReadOnce()
    try reader.forEachMember { (reader, key) throws(JSONParseError) in
      switch key {
      case "choices":
        try seen.first(OpenAIEnvelope.firstFreeMember, in: reader)
        guard reader.next == .array else {
          try reader.skipValue()
          return
        }
        var choices: [Choice] = []
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

  private static func readChoice(_ reader: inout JSONReader, includeThoughts: Bool) throws(JSONParseError)
    -> Choice
  {
    guard reader.next == .object else { throw giveUp(reader) }
    var choice = Choice()
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

  private static func readDelta(_ reader: inout JSONReader, into choice: inout Choice, includeThoughts: Bool)
    throws(JSONParseError)
  {
    let delta = try MessageFields(&reader, includeThoughts: includeThoughts)
    choice.text = delta.content?.stringValue ?? ""
    choice.refusal = delta.refusal
    choice.reasoning = delta.reasoning
  }
}
