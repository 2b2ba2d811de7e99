import RouteSpec

/// A plain chat completion: every choice's content a string or null, with no reasoning to forward, no refusal, no
/// tool calls and no logprobs, and enums answered as names. Almost every answer is one, and it is written to the
/// client straight from these few fields, by ``translated(options:)``.
///
/// It is read either from the answer's tree or, on the hot path, from its bytes without building a tree. Both
/// readers take the first of duplicated members as the tree does; the byte reader gives up (nil) on anything it
/// is not sure of (a duplicated member it reads, a choice or message that is not an object), and its caller then
/// takes the tree's way, so the two can only differ in speed.
struct PlainOpenAIAnswer: Sendable {
  struct Candidate: Sendable {
    var index: Int64
    var text: AnswerText
    var finishReason: String
  }

  /// In the backend's order; ``translated(options:)`` sorts them by index.
  var candidates: [Candidate] { hasCandidates ? [firstCandidate] + laterCandidates : [] }
  // The first candidate held apart: one choice (nearly every answer) then needs no array. Not an optional: a copy
  // of an optional candidate went through the runtime's generic value witnesses.
  /// The backend's first choice when ``hasCandidates``, else a placeholder.
  private var firstCandidate = Candidate(index: 0, text: .text(""), finishReason: "")
  /// Whether there is a first choice; while there is none, ``laterCandidates`` is empty too.
  private var hasCandidates = false
  /// The backend's other choices, in its order.
  private var laterCandidates: [Candidate] = []
  /// The counts of the backend's `usage` member.
  var usage: GeminiUsageCounts?
  /// The backend's `model` and `id` when they are strings.
  var model: AnswerText?
  var id: AnswerText?
  /// The answer's bytes, which its verbatim texts are offsets in (empty when read from a tree): held once, so that
  /// the texts are plain offsets, copied without a retain.
  private var document: [UInt8] = []

  /// An answer with nothing read yet.
  private init() {}

  /// Reads a plain answer from its tree; nil when it is not plain (or is an error, or has no choices: the
  /// general path decides what those become).
  init?(_ response: JSONValue, options: GeminiResponseOptions) {
    guard !options.integerEnums, response["error"] == nil, response["object"]?.stringValue != "error",
      case .array(let choices) = response["choices"] ?? .null
    else { return nil }
    for (position, choice) in choices.enumerated() {
      let message = choice["message"] ?? .object([])
      let text: String
      switch message["content"] {
      case .some(.string(let content)): text = content
      case .none, .some(.null): text = ""
      default: return nil
      }
      if options.includeThoughts, let reasoning = OpenAIToGemini.reasoningText(message), !reasoning.isEmpty {
        return nil
      }
      if let refusal = message["refusal"]?.stringValue, !refusal.isEmpty { return nil }
      if case .array = message["tool_calls"] ?? .null { return nil }
      if OpenAIToGemini.logprobsResult(choice["logprobs"]) != nil { return nil }
      append(
        Candidate(
          index: choice["index"]?.clampedInteger(in: OpenAIToGemini.candidateIndexRange) ?? Int64(position),
          text: .text(text), finishReason: OpenAIToGemini.finishReason(fromOpenAI: choice["finish_reason"]?.stringValue)
        ))
    }
    usage = GeminiUsageCounts(openAI: response["usage"])
    model = response["model"]?.stringValue.map(AnswerText.text)
    id = response["id"]?.stringValue.map(AnswerText.text)
  }

  /// Reads a plain answer from its bytes without building its tree (texts the client gets as they were sent are
  /// kept as offsets in `body`, not made strings); nil when it is not plain, not JSON, or not surely either.
  init?(answer body: [UInt8], options: GeminiResponseOptions) {
    guard let read = Self.reading(answer: body, options: options, { $0 }) else { return nil }
    self = read
  }

  /// ``translated(options:)`` of the plain answer in `body`, as ``init(answer:options:)`` reads it; nil when that
  /// reads none. Written where it was read: the answer is not copied out first.
  static func translatedBytes(answer body: [UInt8], options: GeminiResponseOptions) -> (
    bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings
  )? {
    reading(answer: body, options: options) { $0.translated(options: options) }
  }

  /// `use` of the plain answer read from `body`, or nil when there is none (see ``init(answer:options:)``).
  private static func reading<Result>(
    answer body: [UInt8], options: GeminiResponseOptions, _ use: (borrowing PlainOpenAIAnswer) -> Result
  ) -> Result? {
    guard !options.integerEnums else { return nil }
    return body.withUnsafeBufferPointer { buffer -> Result? in
      // Pulled member by member: a closure per container and member cost more than the reading.
      var reader = JSONReader(document: buffer)
      do throws(JSONParseError) {
        // Read in place: an answer returned from the reading was copied out and dropped.
        var answer = PlainOpenAIAnswer()
        answer.document = body
        try Self.readAnswer(&reader, into: &answer, includeThoughts: options.includeThoughts)
        try reader.finish()
        return use(answer)
      } catch {
        return nil
      }
    }
  }

  /// Adds the next of the backend's choices.
  private mutating func append(_ candidate: consuming Candidate) {
    if hasCandidates {
      laterCandidates.append(candidate)
    } else {
      firstCandidate = candidate
      hasCandidates = true
    }
  }

  /// Calls `body` with the candidates sorted by index: the same sort as the general path's, on the same order, so
  /// the same permutation for equal indices. One candidate (nearly every answer) is already in order: no array.
  private func withCandidatesInOrder<Result>(_ body: (UnsafeBufferPointer<Candidate>) -> Result) -> Result {
    guard hasCandidates else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
    guard !laterCandidates.isEmpty else {
      return withUnsafePointer(to: firstCandidate) { body(UnsafeBufferPointer(start: $0, count: 1)) }
    }
    return candidates.sorted { $0.index < $1.index }.withUnsafeBufferPointer(body)
  }

  private static func notPlain(_ reader: JSONReader) -> JSONParseError { reader.error("not a plain answer") }

  /// Reads the answer's members into `answer`, which holds its bytes and nothing read yet.
  private static func readAnswer(
    _ reader: inout JSONReader, into answer: inout PlainOpenAIAnswer, includeThoughts: Bool
  ) throws(JSONParseError) {
    var seen = MembersReadOnce()
    var sawChoices = false
    guard reader.next == .object else { throw notPlain(reader) }
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "choices":
        try seen.first(0, in: reader)
        sawChoices = true
        guard reader.next == .array else { throw notPlain(reader) }
        try reader.enterArray()
        var position: Int64 = 0
        while try reader.nextElement() {
          answer.append(
            try readChoice(&reader, position: position, includeThoughts: includeThoughts))
          position &+= 1
        }
      case "usage":
        try seen.first(1, in: reader)
        answer.usage = try GeminiUsageCounts.read(openAI: &reader)
      case "model":
        try seen.first(2, in: reader)
        answer.model = try reader.readStringBody().map(AnswerText.init)
      case "id":
        try seen.first(3, in: reader)
        answer.id = try reader.readStringBody().map(AnswerText.init)
      case "object":
        try seen.first(4, in: reader)
        if try reader.readString(is: "error") { throw notPlain(reader) }
      // The tree's way maps an error.
      case "error": throw notPlain(reader)
      default: try reader.skipValue()
      }
    }
    guard sawChoices else { throw notPlain(reader) }
  }

  private static func readChoice(
    _ reader: inout JSONReader, position: Int64, includeThoughts: Bool
  ) throws(JSONParseError) -> Candidate {
    guard reader.next == .object else { throw notPlain(reader) }
    var seen = MembersReadOnce()
    var candidate = Candidate(
      index: position, text: .text(""), finishReason: OpenAIToGemini.finishReason(fromOpenAI: nil))
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "index":
        try seen.first(0, in: reader)
        if let index = try reader.readInteger(clampedTo: OpenAIToGemini.candidateIndexRange) {
          candidate.index = index
        }
      case "finish_reason":
        try seen.first(1, in: reader)
        candidate.finishReason = OpenAIToGemini.finishReason(fromOpenAIName: try reader.readStringName())
      case "logprobs":
        try seen.first(2, in: reader)
        if OpenAIToGemini.logprobsResult(try reader.readValue()) != nil { throw notPlain(reader) }
      case "message":
        try seen.first(3, in: reader)
        candidate.text = try readMessage(&reader, includeThoughts: includeThoughts)
      default: try reader.skipValue()
      }
    }
    return candidate
  }

  /// The text of a plain message: its `content` when a string, empty when null or absent; anything else, a
  /// refusal, tool calls or reasoning to forward (``OpenAIToGemini/reasoningText(_:)``) is not plain.
  private static func readMessage(_ reader: inout JSONReader, includeThoughts: Bool)
    throws(JSONParseError) -> AnswerText
  {
    guard reader.next == .object else { throw notPlain(reader) }
    var seen = MembersReadOnce()
    var text = AnswerText.text("")
    // Whether `reasoning_content` and `reasoning` are empty; nil when absent or not strings.
    var emptyReasoning: (content: Bool?, other: Bool?) = (nil, nil)
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "content":
        try seen.first(0, in: reader)
        switch reader.next {
        case .string: text = try reader.readStringBody().map(AnswerText.init) ?? text
        case .null: try reader.skipValue()
        default: throw notPlain(reader)
        }
      case "refusal":
        try seen.first(1, in: reader)
        if let refusal = try reader.readStringBody(), !refusal.isEmpty { throw notPlain(reader) }
      case "tool_calls":
        try seen.first(2, in: reader)
        if reader.next == .array { throw notPlain(reader) }
        try reader.skipValue()
      case "reasoning_content" where includeThoughts:
        try seen.first(3, in: reader)
        emptyReasoning.content = try reader.readStringBody()?.isEmpty
      case "reasoning" where includeThoughts:
        try seen.first(4, in: reader)
        emptyReasoning.other = try reader.readStringBody()?.isEmpty
      default: try reader.skipValue()
      }
    }
    // `reasoning_content` when a string, else `reasoning`, as the tree's `reasoningText` takes them.
    if !(emptyReasoning.content ?? emptyReasoning.other ?? true) { throw notPlain(reader) }
    return text
  }

  /// The client bytes (exactly the compact serialisation of ``OpenAIToGemini/translate(_:options:)``'s `json`),
  /// the counts of its `usageMetadata` for the request record, and no warnings (a plain answer has nothing approximated).
  func translated(options: GeminiResponseOptions) -> (
    bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings
  ) {
    document.withUnsafeBufferPointer { document in
      withCandidatesInOrder { translated(candidates: $0, document: document, options: options) }
    }
  }

  /// ``translated(options:)`` with the candidates in order.
  private func translated(
    candidates: UnsafeBufferPointer<Candidate>, document: UnsafeBufferPointer<UInt8>, options: GeminiResponseOptions
  ) -> (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings) {
    // The most the answer can take; then one pass of plain copies into a buffer that never grows (an array append
    // per piece cost more than the copy).
    let model = model ?? .text(options.modelVersion)
    let id = id ?? .text(options.responseId)
    let bound = candidates.reduce(model.writtenBound + id.writtenBound + AnswerBytes.fixedBound) {
      $0 + $1.text.writtenBound + AnswerBytes.candidateBound
    }
    let bytes = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
      var out = AnswerBytes(buffer)
      // The first candidate opens the array; without one, it is opened here (the tree's `candidates` is never left
      // out). Each candidate as ``OpenAIToGemini/candidateObject(parts:index:finishReason:finishMessage:)`` builds
      // it (an empty text is the one empty part it puts in an empty content).
      if candidates.isEmpty { out.append(literal: #"{"candidates":["#) }
      for (position, candidate) in candidates.enumerated() {
        out.append(
          literal: position == 0
            ? #"{"candidates":[{"content":{"role":"model","parts":[{"text":"#
            : #",{"content":{"role":"model","parts":[{"text":"#)
        out.append(candidate.text, in: document)
        out.append(literal: #"}]},"finishReason":""#)
        out.append(name: candidate.finishReason)
        out.append(literal: #"","index":"#)
        out.appendInteger(candidate.index)
        out.append(UInt8(ascii: "}"))
      }
      // What ``OpenAIStreamTranslator/writeEnvelopeEnd(usage:modelVersion:responseId:into:)`` writes.
      out.append(UInt8(ascii: "]"))
      if let usage {
        out.append(literal: #","usageMetadata":"#)
        usage.write(into: &out)
      }
      out.append(literal: #","modelVersion":"#)
      out.append(model, in: document)
      out.append(literal: #","responseId":"#)
      out.append(id, in: document)
      out.append(UInt8(ascii: "}"))
      count = out.count
    }
    return (bytes, usage, TranslationWarnings())
  }
}

/// The bytes of a plain answer being written into a buffer sized up front (``PlainOpenAIAnswer/translated(options:)``
/// sizes it from these bounds): plain copies, no growth and no check of room per piece.
struct AnswerBytes: ByteOutput {
  /// The most the members around the candidates take: `candidates`, `usageMetadata` with its five counts,
  /// `modelVersion` and `responseId` without their texts.
  static let fixedBound = 512
  /// The most one candidate takes besides its text.
  static let candidateBound = 160

  private let buffer: UnsafeMutableBufferPointer<UInt8>
  /// How many bytes are written.
  private(set) var count = 0

  init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

  mutating func append(_ byte: UInt8) {
    // Never past the buffer, should a bound be wrong: a short answer rather than a write out of it.
    guard count < buffer.count else { return }
    buffer[count] = byte
    count += 1
  }

  mutating func append(literal: StaticString) {
    append(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// Appends a finish reason, one of ``OpenAIToGemini/finishReason(fromOpenAI:)``'s short ASCII names.
  mutating func append(name text: String) {
    var text = text
    text.withUTF8 { append($0) }
  }

  mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let source = bytes.baseAddress, let target = buffer.baseAddress, bytes.count <= buffer.count - count
    else { return }
    (target + count).update(from: source, count: bytes.count)
    count += bytes.count
  }

  /// Appends a text as ``JSONWriter/writeString(_:into:)`` writes it: a verbatim one's bytes in `document` as
  /// sent, between quotes; any other escaped by the writer.
  mutating func append(_ text: AnswerText, in document: UnsafeBufferPointer<UInt8>) {
    switch text {
    case .verbatim(let range):
      // Offsets the reader took in this very document; checked all the same, never a read outside it.
      guard range.lowerBound >= 0, range.upperBound <= document.count else { return }
      append(UInt8(ascii: "\""))
      append(UnsafeBufferPointer(rebasing: document[range]))
      append(UInt8(ascii: "\""))
    case .text(let text):
      var out: [UInt8] = []
      JSONWriter.writeString(text, into: &out)
      out.withUnsafeBufferPointer { append($0) }
    }
  }

  /// Appends an integer as ``JSONWriter/writeInteger(_:into:)`` spells it.
  mutating func appendInteger(_ number: Int64) {
    let length = JSONWriter.integerLength(number)
    guard length <= buffer.count - count, let target = buffer.baseAddress else { return }
    JSONWriter.writeInteger(number, length: length, at: target + count)
    count += length
  }
}

/// Where ``GeminiUsageCounts/write(into:)`` writes: an array, or an answer's buffer sized up front.
protocol ByteOutput {
  mutating func append(_ byte: UInt8)
  mutating func append(literal: StaticString)
  mutating func appendInteger(_ number: Int64)
}

extension [UInt8]: ByteOutput {
  mutating func appendInteger(_ number: Int64) { JSONWriter.writeInteger(number, into: &self) }
}

/// A text of a plain answer for the client: the bytes it was sent as, when those are what ``JSONWriter`` writes
/// for it (``JSONReader/readStringBody()``), so that no `String` is made and no escape is looked for; else the text.
enum AnswerText: Sendable {
  /// The string's body as sent: its offsets in the answer's bytes (``PlainOpenAIAnswer`` holds them; no copy).
  case verbatim(Range<Int>)
  case text(String)

  init(_ body: JSONStringBody) {
    switch body {
    case .verbatim(let range): self = .verbatim(range)
    case .text(let text): self = .text(text)
    }
  }

  /// The text, its bytes taken from `document` when verbatim.
  func string(in document: [UInt8]) -> String {
    switch self {
    case .verbatim(let range):
      guard range.lowerBound >= 0, range.upperBound <= document.count else { return "" }
      return String(decoding: document[range], as: UTF8.self)
    case .text(let text): return text
    }
  }

  /// The most bytes ``AnswerBytes/append(_:in:)`` writes: the body and its quotes, each byte escaped as `\u00XX` at worst.
  var writtenBound: Int {
    switch self {
    case .verbatim(let range): range.count + 2
    case .text(let text): text.utf8.count * 6 + 2
    }
  }
}

extension PlainOpenAIAnswer: Equatable {
  /// Equal when their candidates (in the backend's order), usage, model and id are, texts compared as text.
  static func == (left: PlainOpenAIAnswer, right: PlainOpenAIAnswer) -> Bool {
    let (leftCandidates, rightCandidates) = (left.candidates, right.candidates)
    return leftCandidates.count == rightCandidates.count
      && zip(leftCandidates, rightCandidates).allSatisfy {
        $0.index == $1.index && $0.finishReason == $1.finishReason
          && $0.text.string(in: left.document) == $1.text.string(in: right.document)
      }
      && left.usage == right.usage && left.model?.string(in: left.document) == right.model?.string(in: right.document)
      && left.id?.string(in: left.document) == right.id?.string(in: right.document)
  }
}

extension JSONStringBody {
  /// Whether the string is empty.
  var isEmpty: Bool {
    switch self {
    case .verbatim(let range): range.isEmpty
    case .text(let text): text.isEmpty
    }
  }
}

/// The members an object's byte reader has read, once each (one bit per member it knows; no hashing): a second
/// one is not surely what the tree would take (the tree takes the first), so reading gives up.
struct MembersReadOnce {
  private var bits: UInt8 = 0
  mutating func first(_ member: UInt8, in reader: JSONReader) throws(JSONParseError) {
    guard bits & 1 << member == 0 else { throw reader.error("a member read twice") }
    bits |= 1 << member
  }
}
