import RouteCompiler
import RouteSpec

/// The `echo` backend: an in-process OpenAI-compatible server with no network.
///
/// It answers `POST .../chat/completions` with the last user message's text, streamed word by word when
/// asked (one `chat.completion.chunk` per word, each carrying the whitespace before it, so that the
/// chunks joined give the text back exactly), then a finish chunk, a usage chunk when
/// `stream_options.include_usage` is set, and `data: [DONE]`.
///
/// Token counts are honest under one rule: a token is a word, a maximal run of non-whitespace
/// characters. `prompt_tokens` counts the words of every message's text (string content, or its
/// `text` parts), `completion_tokens` the words sent back; `max_completion_tokens` (or `max_tokens`)
/// cuts the answer after that many words with `finish_reason: "length"`.
///
/// `POST .../embeddings` gets a small deterministic vector per input (from the SHA-256 of its text),
/// `GET .../models` a list with the one model `echo`; anything else is a 404 in OpenAI's error shape.
/// With a `pace`, a streamed answer sends its first word at once and each next word `pace` later (the
/// finish, usage and `[DONE]` events with the last word), from timers on the caller's reactor: a slow model
/// to try streaming clients and deadlines on, and a way to hold thousands of streams with one descriptor
/// each.
///
/// It exists so that a new user can run the gateway with no account, and so tests and benchmarks have
/// a backend with no cost of its own.
public struct EchoTransport: UpstreamTransport {
  /// The wait before each streamed word after the first; nil sends the whole stream at once.
  let pace: Duration?

  /// Creates the echo backend.
  public init(pace: Duration? = nil) { self.pace = pace }

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    if Task.isCancelled { throw .cancelled }
    // The same wire rules as the network transports, so that a test against echo sees what a backend would.
    try request.checkedForWire()
    let path = String(request.url.prefix { $0 != "?" })
    if request.method.uppercased() == "GET" {
      if path.hasSuffix("/models") { return Self.models() }
      return Self.error(404, "echo serves GET /models, POST /chat/completions and POST /embeddings")
    }
    let isEmbeddings = path.hasSuffix("/embeddings")
    guard isEmbeddings || path.hasSuffix("/chat/completions") else {
      return Self.error(404, "echo serves GET /models, POST /chat/completions and POST /embeddings")
    }
    guard let json = try? JSONParser.parse(request.body) else {
      return Self.error(400, "the request body is not JSON")
    }
    if isEmbeddings { return Self.embeddings(json) }
    let model = json["model"]?.stringValue ?? "echo"
    let messages = json["messages"]?.arrayValue ?? []
    let text = messages.last { $0["role"]?.stringValue == "user" }.map(Self.text) ?? ""
    // Never more words than echo's own output limit (what GET models says of it), whatever was asked: a
    // 20 MiB prompt of one-letter words must not become millions of events.
    let asked = (json["max_completion_tokens"] ?? json["max_tokens"])?.intValue.map { max(0, $0) }
    let limit = Int(min(asked ?? Int64(Self.outputTokenLimit), Int64(Self.outputTokenLimit)))
    let wordsInText = Self.count(text)
    let words = Self.words(text, atMost: limit)
    let completionTokens = min(wordsInText, limit)
    let finish = wordsInText > limit ? "length" : "stop"
    let promptTokens = messages.reduce(0) { $0 + Self.count(Self.text($1)) }
    let usage: JSONValue = .object([
      "prompt_tokens": .int(Int64(promptTokens)), "completion_tokens": .int(Int64(completionTokens)),
      "total_tokens": .int(Int64(promptTokens + completionTokens)),
    ])
    let id: JSONValue = "chatcmpl-echo"
    guard json["stream"]?.boolValue == true else {
      let answer: JSONValue = .object([
        "id": id, "object": "chat.completion", "created": 0, "model": .string(model),
        "choices": [
          .object([
            "index": 0, "message": .object(["role": "assistant", "content": .string(words.joined())]),
            "finish_reason": .string(finish),
          ])
        ],
        "usage": usage,
      ])
      return UpstreamResponse(
        head: UpstreamResponseHead(status: 200, headers: UpstreamHeaders([("content-type", "application/json")])),
        body: UpstreamBody(chunks: [answer.serializedBytes()]))
    }
    func event(_ value: JSONValue) -> [UInt8] { Array("data: ".utf8) + value.serializedBytes() + Array("\n\n".utf8) }
    func chunk(_ delta: JSONValue, finish: String?) -> JSONValue {
      .object([
        "id": id, "object": "chat.completion.chunk", "created": 0, "model": .string(model),
        "choices": [.object(["index": 0, "delta": delta, "finish_reason": finish.map { .string($0) } ?? .null])],
      ])
    }
    var chunks: [[UInt8]] = []
    for (index, word) in words.enumerated() {
      let delta: JSONValue =
        index == 0 ? .object(["role": "assistant", "content": .string(word)]) : .object(["content": .string(word)])
      chunks.append(event(chunk(delta, finish: nil)))
    }
    chunks.append(event(chunk(.object([]), finish: finish)))
    if json["stream_options"]?["include_usage"]?.boolValue == true {
      chunks.append(event(.object(["id": id, "object": "chat.completion.chunk", "choices": [], "usage": usage])))
    }
    chunks.append(Array("data: [DONE]\n\n".utf8))
    let head = UpstreamResponseHead(status: 200, headers: UpstreamHeaders([("content-type", "text/event-stream")]))
    guard let pace, words.count > 1 else { return UpstreamResponse(head: head, body: UpstreamBody(chunks: chunks)) }
    // One push per word; the events after the last word go with it.
    var pieces = Array(chunks.prefix(words.count))
    pieces[pieces.count - 1] += chunks.dropFirst(words.count).joined()
    let reactor = Reactor.currentOrShared
    let feed = PacedFeed(pieces, pace: pace, reactor: reactor)
    let body = UpstreamBody(producer: feed)
    await reactor.perform { feed.start(body) }
    return UpstreamResponse(head: head, body: body)
  }

  /// The text of a message: a string, or its text parts joined.
  static func text(_ message: JSONValue) -> String {
    switch message["content"] {
    case .string(let text)?: return text
    case .array(let parts)?:
      return parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined()
    default: return ""
    }
  }

  /// The number of words (maximal runs of non-whitespace characters) in `text`: the echo's token count.
  static func count(_ text: String) -> Int {
    var count = 0
    var inWord = false
    for character in text {
      if character.isWhitespace {
        inWord = false
      } else if !inWord {
        inWord = true
        count += 1
      }
    }
    return count
  }

  /// The most strings one embeddings request may hold (OpenAI's limit).
  static let maxEmbeddingInputs = 2048

  /// The most words echo answers with: its output token limit.
  static let outputTokenLimit = RouteCompiler.Defaults.tokenLimits(for: .echo).output

  /// Words with the whitespace before each, so that joining them gives the text back; whitespace after
  /// the last word stays with it, and a text with no word at all is one piece. At most `limit` words:
  /// the text stops where word `limit + 1` would start.
  static func words(_ text: String, atMost limit: Int = .max) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var started = 0
    for character in text {
      if character.isWhitespace {
        if inWord {
          words.append(current)
          current = ""
          inWord = false
        }
        current.append(character)
      } else {
        if !inWord {
          if started == limit { return words }
          started += 1
        }
        inWord = true
        current.append(character)
      }
    }
    if !current.isEmpty {
      if inWord || words.isEmpty { words.append(current) } else { words[words.count - 1] += current }
    }
    return words
  }

  static func models() -> UpstreamResponse {
    let answer: JSONValue = .object([
      "object": "list",
      "data": [.object(["id": "echo", "object": "model", "created": 0, "owned_by": "louter"])],
    ])
    return UpstreamResponse(
      head: UpstreamResponseHead(status: 200, headers: UpstreamHeaders([("content-type", "application/json")])),
      body: UpstreamBody(chunks: [answer.serializedBytes()]))
  }

  static func embeddings(_ json: JSONValue) -> UpstreamResponse {
    let inputs: [String]
    switch json["input"] {
    case .string(let text)?: inputs = [text]
    case .array(let values)?: inputs = values.compactMap(\.stringValue)
    default: return error(400, "input must be a string or a list of strings")
    }
    // OpenAI's own bound on inputs per request; it also keeps the answer proportionate to the request.
    guard inputs.count <= Self.maxEmbeddingInputs else {
      return error(400, "input may hold at most \(Self.maxEmbeddingInputs) strings")
    }
    let data = inputs.enumerated().map { index, text -> JSONValue in
      let digest = SHA256.hash(text.utf8)
      let vector = (0..<8).map { JSONValue.double(Double(Int(digest[$0]) - 128) / 128) }
      return .object(["object": "embedding", "index": .int(Int64(index)), "embedding": .array(vector)])
    }
    let tokens = inputs.reduce(0) { $0 + count($1) }
    let answer: JSONValue = .object([
      "object": "list", "data": .array(data), "model": json["model"] ?? "echo",
      "usage": .object(["prompt_tokens": .int(Int64(tokens)), "total_tokens": .int(Int64(tokens))]),
    ])
    return UpstreamResponse(
      head: UpstreamResponseHead(status: 200, headers: UpstreamHeaders([("content-type", "application/json")])),
      body: UpstreamBody(chunks: [answer.serializedBytes()]))
  }

  static func error(_ status: Int, _ message: String) -> UpstreamResponse {
    let body: JSONValue = .object([
      "error": .object(["message": .string(message), "type": "invalid_request_error", "param": nil, "code": nil])
    ])
    return UpstreamResponse(
      head: UpstreamResponseHead(status: status, headers: UpstreamHeaders([("content-type", "application/json")])),
      body: UpstreamBody(chunks: [body.serializedBytes()]))
  }
}

/// A paced echo stream in progress: pushes its first piece at once and each next one `pace` later, on the
/// reactor's timer heap. Loop-thread state (the reactor it was started on); `stop` comes there too.
final class PacedFeed: @unchecked Sendable {
  private let reactor: Reactor
  private let pace: Duration
  private var pieces: ArraySlice<[UInt8]>
  private var timer: TimerHeap<() -> Void>.ID?
  private var stopped = false
  /// Weak: the consumer owns the body, and a body dropped unread ends the feed.
  private weak var body: UpstreamBody?

  init(_ pieces: [[UInt8]], pace: Duration, reactor: Reactor) {
    self.pieces = pieces[...]
    self.pace = pace
    self.reactor = reactor
  }

  func start(_ body: UpstreamBody) {
    self.body = body
    step()
  }

  /// The consumer cancelled: no more pieces, no timer left behind.
  func stop() {
    stopped = true
    if let timer { reactor.cancel(timer) }
    timer = nil
  }

  private func step() {
    timer = nil
    guard !stopped, let body, let piece = pieces.popFirst() else { return }
    body.push(piece)
    if pieces.isEmpty {
      body.finish(nil)
    } else {
      timer = reactor.schedule(at: .now.advanced(by: pace)) { [self] in step() }
    }
  }
}

extension PacedFeed: UpstreamProducer {
  /// A paced feed pushes one small piece per interval: nothing to pause.
  func setPaused(_ pause: Bool) {}
  /// The consumer cancelled, on its own thread: the feed stops on its loop.
  func stopProducing() { reactor.execute { self.stop() } }
}
