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

  /// A chunk with nothing read yet.
  init() {}

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
    var text = text
    // Native strings are contiguous UTF-8 already; this only copies for bridged or lazy ones.
    var storage: [Choice] = []
    let read = text.withUTF8 { buffer in
      OpenAIStreamChunk(bytes: buffer, includeThoughts: includeThoughts, known: known, storage: &storage)
    }
    guard let read else { return nil }
    self = read
  }

  /// Reads a common chunk from its JSON bytes as ``init(text:includeThoughts:known:)`` reads their text: what it
  /// reads is valid UTF-8 (the reader refuses anything else), so the text made of these bytes reads the same.
  /// `storage` is an emptied array whose buffer the choices may take (a stream's chunks one after another reuse one).
  init?(
    bytes: UnsafeBufferPointer<UInt8>, includeThoughts: Bool, known: (model: String?, id: String?),
    storage: inout [Choice]
  ) {
    // Pulled member by member: a closure per container and member cost more than the reading.
    var reader = JSONReader(document: bytes)
    do throws(JSONParseError) {
      self = try Self.readChunk(&reader, includeThoughts: includeThoughts, known: known, storage: &storage)
      try reader.finish()
    } catch {
      return nil
    }
  }

  private static func giveUp(_ reader: JSONReader) -> JSONParseError { reader.error("not a common chunk") }

  /// The chunk's members as the tree's reading takes them (`model` and `id` when strings, and `choices`); an
  /// `error`, an `object` of `"error"` or a member read twice gives reading up: the tree's way maps errors and takes
  /// the first of repeated members.
  private static func readChunk(
    _ reader: inout JSONReader, includeThoughts: Bool, known: (model: String?, id: String?),
    storage: inout [Choice]
  ) throws(JSONParseError) -> OpenAIStreamChunk {
    guard reader.next == .object else { throw giveUp(reader) }
    var chunk = OpenAIStreamChunk()
    var seen = MembersReadOnce()
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "choices":
        try seen.first(0, in: reader)
        guard reader.next == .array else {
          try reader.skipValue()
          continue
        }
        var choices: [Choice] = []
        // The storage's buffer taken over (uniquely held, emptied: nothing is copied).
        swap(&choices, &storage)
        try reader.enterArray()
        while try reader.nextElement() {
          choices.append(try readChoice(&reader, includeThoughts: includeThoughts))
        }
        chunk.choices = choices
      case "error": throw giveUp(reader)
      case "object":
        try seen.first(1, in: reader)
        // As a name: compared as bytes, without the key scan's decoding checks.
        if let object = try reader.readStringName(), object == "error" { throw giveUp(reader) }
      case "model":
        try seen.first(2, in: reader)
        chunk.model = try reader.readStringValue(reusing: known.model)
      case "id":
        try seen.first(3, in: reader)
        chunk.id = try reader.readStringValue(reusing: known.id)
      case "usage":
        try seen.first(4, in: reader)
        chunk.usage = try reader.readValue()
      default: try reader.skipValue()
      }
    }
    return chunk
  }

  private static func readChoice(_ reader: inout JSONReader, includeThoughts: Bool) throws(JSONParseError)
    -> Choice
  {
    guard reader.next == .object else { throw giveUp(reader) }
    var choice = Choice()
    var seen = MembersReadOnce()
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "index":
        try seen.first(0, in: reader)
        choice.index = try reader.readInteger(clampedTo: OpenAIToGemini.candidateIndexRange)
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

  /// A delta's members as the tree's way reads a message's (``OpenAIToGemini/reasoningText(_:)`` for reasoning):
  /// gives up on tool calls (an array of them: the tree's way accumulates those) and on anything that is not an
  /// object.
  private static func readDelta(_ reader: inout JSONReader, into choice: inout Choice, includeThoughts: Bool)
    throws(JSONParseError)
  {
    guard reader.next == .object else { throw giveUp(reader) }
    var seen = MembersReadOnce()
    // `reasoning_content` and `reasoning` when strings (read only when thoughts are forwarded).
    var reasoning: (content: String?, other: String?) = (nil, nil)
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "content":
        try seen.first(0, in: reader)
        choice.text = try reader.readStringValue() ?? ""
      case "refusal":
        try seen.first(1, in: reader)
        choice.refusal = try reader.readStringValue() ?? ""
      case "tool_calls":
        try seen.first(2, in: reader)
        if reader.next == .array { throw giveUp(reader) }
        try reader.skipValue()
      case "reasoning_content":
        try seen.first(3, in: reader)
        if includeThoughts { reasoning.content = try reader.readStringValue() } else { try reader.skipValue() }
      case "reasoning":
        try seen.first(4, in: reader)
        if includeThoughts { reasoning.other = try reader.readStringValue() } else { try reader.skipValue() }
      default: try reader.skipValue()
      }
    }
    // `reasoning_content` when a string, else `reasoning`, as ``OpenAIToGemini/reasoningText(_:)`` takes them.
    if includeThoughts { choice.reasoning = reasoning.content ?? reasoning.other ?? "" }
  }
}
