public import RouteSpec

/// The fixed parts of every answer to one OpenAI request.
public struct OpenAIAnswerIdentity: Sendable, Equatable {
  /// `chatcmpl-…`.
  public var id: String
  /// Unix seconds.
  public var created: Int64
  /// The model the client asked for (clients compare it).
  public var model: String

  /// Creates the identity of an answer.
  public init(id: String, created: Int64, model: String) {
    self.id = id
    self.created = created
    self.model = model
  }
}

/// Gemini `generateContent` answers → OpenAI `chat.completion` and `chat.completion.chunk` (docs/openai-front.md).
public enum OpenAIFrontResponse {
  /// A whole answer; a prompt blocked before any candidate is the client's 400.
  public static func completion(
    _ answer: JSONValue, identity: OpenAIAnswerIdentity, callID: () -> String
  ) throws(GeminiError) -> JSONValue {
    try checkBlocked(answer)
    var choices: [JSONValue] = []
    for (position, candidate) in (answer["candidates"]?.arrayValue ?? []).enumerated() {
      let index = candidate["index"]?.integer(in: 0...1024) ?? Int64(position)
      let read = CandidateReader(candidate, callID: callID)
      var message: [JSONMember] = [JSONMember("role", "assistant")]
      message.append(JSONMember("content", read.calls.isEmpty || !read.text.isEmpty ? .string(read.text) : .null))
      message.append(JSONMember("refusal", .null))
      if !read.calls.isEmpty { message.append(JSONMember("tool_calls", .array(read.calls.map(\.json)))) }
      choices.append(
        .object([
          "index": .int(index), "message": .object(message),
          "finish_reason": .string(finishReason(candidate["finishReason"]?.stringValue, sawCall: !read.calls.isEmpty)),
          "logprobs": logprobs(candidate["logprobsResult"]),
        ]))
    }
    var members: [JSONMember] = [
      JSONMember("id", .string(identity.id)), JSONMember("object", "chat.completion"),
      JSONMember("created", .int(identity.created)), JSONMember("model", .string(identity.model)),
      JSONMember("choices", .array(choices)),
    ]
    if let usage = usage(answer["usageMetadata"]) { members.append(JSONMember("usage", usage)) }
    return .object(members)
  }

  /// Gemini `logprobsResult` → OpenAI `logprobs.content` (`bytes` unknown); null when absent.
  static func logprobs(_ result: JSONValue?) -> JSONValue {
    guard let chosen = result?["chosenCandidates"]?.arrayValue else { return .null }
    let top = result?["topCandidates"]?.arrayValue ?? []
    func entry(_ candidate: JSONValue) -> [JSONMember] {
      [
        JSONMember("token", .string(candidate["token"]?.stringValue ?? "")),
        JSONMember("logprob", .double(candidate["logProbability"]?.doubleValue ?? 0)), JSONMember("bytes", .null),
      ]
    }
    let content: [JSONValue] = chosen.enumerated().map { position, candidate in
      let alternatives = position < top.count ? top[position]["candidates"]?.arrayValue ?? [] : []
      return .object(entry(candidate) + [JSONMember("top_logprobs", .array(alternatives.map { .object(entry($0)) }))])
    }
    return .object(["content": .array(content)])
  }

  /// A 400 for an answer whose prompt was blocked before any candidate.
  static func checkBlocked(_ answer: JSONValue) throws(GeminiError) {
    let candidates = answer["candidates"]?.arrayValue ?? []
    if candidates.isEmpty, let reason = answer["promptFeedback"]?["blockReason"]?.stringValue {
      throw GeminiError(.invalidArgument, message: "the prompt was blocked by the backend's filter (\(reason))")
    }
  }

  /// Gemini `finishReason` → OpenAI `finish_reason`; `tool_calls` when the candidate called a function.
  public static func finishReason(_ reason: String?, sawCall: Bool) -> String {
    switch reason {
    case "MAX_TOKENS": return "length"
    case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
      "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
      return "content_filter"
    default: return sawCall ? "tool_calls" : "stop"
    }
  }

  /// Gemini `usageMetadata` → OpenAI `usage`, counts clamped and summed without overflow; nil when absent.
  public static func usage(_ metadata: JSONValue?) -> JSONValue? {
    guard let metadata, case .object = metadata else { return nil }
    let range = OpenAIToGemini.tokenCountRange
    func count(_ name: String) -> Int64 { metadata[name]?.clampedInteger(in: range) ?? 0 }
    let prompt = BoundedInteger.sum(count("promptTokenCount"), count("toolUsePromptTokenCount"), in: range)
    let thoughts = count("thoughtsTokenCount")
    let completion = BoundedInteger.sum(count("candidatesTokenCount"), thoughts, in: range)
    let total =
      metadata["totalTokenCount"]?.clampedInteger(in: range) ?? BoundedInteger.sum(prompt, completion, in: range)
    return .object([
      "prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(total),
      "prompt_tokens_details": .object(["cached_tokens": .int(count("cachedContentTokenCount"))]),
      "completion_tokens_details": .object(["reasoning_tokens": .int(thoughts)]),
    ])
  }
}

/// One tool call read from a `functionCall` part.
struct ToolCall: Equatable {
  let id: String
  let name: String
  /// The arguments as a JSON text (`{}` when absent).
  let arguments: String
  /// Gemini's `thoughtSignature` on the call's part: Gemini 3 wants it back with the call on the next turn.
  var signature: String? = nil

  /// The OpenAI tool call; a signature goes in `extra_content.google.thought_signature`, where Google's own
  /// OpenAI-compatible endpoint puts it (the SDK keeps unknown fields, so it comes back with the history).
  var json: JSONValue {
    var members: [JSONMember] = [
      JSONMember("id", .string(id)), JSONMember("type", "function"),
      JSONMember("function", .object(["name": .string(name), "arguments": .string(arguments)])),
    ]
    if let signature {
      members.append(
        JSONMember("extra_content", .object(["google": .object(["thought_signature": .string(signature)])])))
    }
    return .object(members)
  }
}

/// The text and tool calls of one candidate (thought parts are not the answer).
struct CandidateReader {
  var text = ""
  var calls: [ToolCall] = []

  /// Reads `candidate`; `callID` names calls that came without an id.
  init(_ candidate: JSONValue, callID: () -> String) {
    for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
      if part["thought"]?.boolValue == true { continue }
      if let piece = part["text"]?.stringValue { text += piece }
      if let call = part["functionCall"], let name = call["name"]?.stringValue {
        let args = call["args"].flatMap { $0 == .null ? nil : $0 } ?? .object([])
        calls.append(
          ToolCall(
            id: call["id"]?.stringValue ?? callID(), name: name, arguments: args.serialized(),
            signature: part["thoughtSignature"]?.stringValue))
      }
    }
  }
}

/// Gemini stream events → `chat.completion.chunk` objects, one request's state.
public struct OpenAIFrontStream: Sendable {
  let identity: OpenAIAnswerIdentity
  let includeUsage: Bool
  private var sentRole: Set<Int64> = []
  private var nextToolIndex: [Int64: Int64] = [:]
  private var finished: Set<Int64> = []
  private var started: Set<Int64> = []
  private var lastUsage: JSONValue?

  /// Creates the state; `includeUsage` from `stream_options.include_usage`.
  public init(identity: OpenAIAnswerIdentity, includeUsage: Bool) {
    self.identity = identity
    self.includeUsage = includeUsage
  }

  /// The chunks for one Gemini event; a blocked prompt is an error.
  public mutating func consume(_ event: JSONValue, callID: () -> String) throws(GeminiError) -> [JSONValue] {
    try OpenAIFrontResponse.checkBlocked(event)
    if let usage = event["usageMetadata"], case .object = usage { lastUsage = usage }
    var chunks: [JSONValue] = []
    for (position, candidate) in (event["candidates"]?.arrayValue ?? []).enumerated() {
      let index = candidate["index"]?.integer(in: 0...1024) ?? Int64(position)
      started.insert(index)
      let read = CandidateReader(candidate, callID: callID)
      var delta: [JSONMember] = []
      if !sentRole.contains(index) {
        sentRole.insert(index)
        chunks.append(chunk(index: index, delta: .object(["role": "assistant", "content": ""])))
      }
      if !read.text.isEmpty { delta.append(JSONMember("content", .string(read.text))) }
      if !read.calls.isEmpty {
        var calls: [JSONValue] = []
        for call in read.calls {
          let toolIndex = nextToolIndex[index, default: 0]
          nextToolIndex[index] = toolIndex + 1
          guard case .object(var members) = call.json else { continue }
          members.insert(JSONMember("index", .int(toolIndex)), at: 0)
          calls.append(.object(members))
        }
        delta.append(JSONMember("tool_calls", .array(calls)))
      }
      if !delta.isEmpty { chunks.append(chunk(index: index, delta: .object(delta))) }
      if let reason = candidate["finishReason"]?.stringValue, !finished.contains(index) {
        finished.insert(index)
        let finish = OpenAIFrontResponse.finishReason(reason, sawCall: nextToolIndex[index] != nil)
        chunks.append(chunk(index: index, delta: .object([]), finish: finish))
      }
    }
    return chunks
  }

  /// True when every candidate that began has finished, and at least one began.
  public var isComplete: Bool { !started.isEmpty && started.isSubset(of: finished) }

  /// The last chunks of a stream that ended well: the usage chunk when asked for.
  public func finish() -> [JSONValue] {
    guard includeUsage else { return [] }
    return [envelope(choices: [], usage: OpenAIFrontResponse.usage(lastUsage) ?? .null)]
  }

  /// A chunk with one choice.
  func chunk(index: Int64, delta: JSONValue, finish: String? = nil) -> JSONValue {
    let choice: JSONValue = .object([
      "index": .int(index), "delta": delta, "finish_reason": finish.map { .string($0) } ?? .null, "logprobs": .null,
    ])
    return envelope(choices: [choice], usage: nil)
  }

  /// A chunk's fixed members around `choices`; `usage` is null on every chunk but the last when usage was asked for.
  func envelope(choices: [JSONValue], usage: JSONValue?) -> JSONValue {
    var members: [JSONMember] = [
      JSONMember("id", .string(identity.id)), JSONMember("object", "chat.completion.chunk"),
      JSONMember("created", .int(identity.created)), JSONMember("model", .string(identity.model)),
      JSONMember("choices", .array(choices)),
    ]
    if let usage {
      members.append(JSONMember("usage", usage))
    } else if includeUsage {
      members.append(JSONMember("usage", .null))
    }
    return .object(members)
  }
}

/// OpenAI's error body and the SSE framing of the OpenAI front.
public enum OpenAIWire {
  /// `{"error":{"message","type","param","code"}}` for `error`, with the status it is sent with.
  public static func errorJSON(_ error: GeminiError) -> JSONValue {
    .object([
      "error": .object([
        "message": .string(error.message), "type": .string(errorType(status: error.code)), "param": .null,
        "code": .string(errorCode(error)),
      ])
    ])
  }

  /// The `type` OpenAI uses for a status (the SDK picks its exception from the status alone).
  public static func errorType(status: Int) -> String {
    switch status {
    case 401: "authentication_error"
    case 403: "permission_error"
    case 404: "not_found_error"
    case 429: "rate_limit_error"
    case 400..<500: "invalid_request_error"
    default: "server_error"
    }
  }

  /// OpenAI's `code` for the common cases, else the google.rpc status in lowercase.
  static func errorCode(_ error: GeminiError) -> String {
    switch error.code {
    case 401: "invalid_api_key"
    case 404: "model_not_found"
    case 429: "rate_limit_exceeded"
    default: error.status.lowercased()
    }
  }

  /// `retry-after` in whole seconds from the error's `RetryInfo`, rounded up; none when there is none.
  public static func retryAfterHeaders(_ error: GeminiError) -> [(String, String)] {
    for detail in error.details where detail["@type"]?.stringValue?.hasSuffix("RetryInfo") == true {
      guard let delay = detail["retryDelay"]?.stringValue, delay.hasSuffix("s") else { continue }
      let parts = delay.dropLast().split(separator: ".", maxSplits: 1)
      guard let whole = parts.first, let seconds = BoundedInteger.decimalDigits(whole, maximum: 86_400) else {
        continue
      }
      let roundedUp = parts.count == 2 && parts[1].contains(where: { $0 != "0" }) ? seconds + 1 : seconds
      return [("retry-after", String(roundedUp))]
    }
    return []
  }

  /// One SSE event holding `value`.
  public static func event(_ value: JSONValue) -> [UInt8] {
    var out: [UInt8] = Array("data: ".utf8)
    JSONWriter.write(value, into: &out, pretty: false, depth: 0)
    out.append(contentsOf: [0x0A, 0x0A])
    return out
  }

  /// The stream's last event.
  public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)
}
