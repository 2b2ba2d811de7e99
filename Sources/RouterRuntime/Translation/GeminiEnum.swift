public import RouteSpec

/// One enum of the Gemini API: its value names, indexed by protobuf number.
///
/// Protobuf JSON lets a client spell an enum value by name or by number; the legacy `google-generativeai` SDK
/// sends numbers (`?$alt=json;enum-encoding=int`). Every enum field louter reads goes through ``decode(_:)``,
/// and every enum field it writes for such a client through ``encode(_:)``.
///
/// Numbers are those of `google.ai.generativelanguage.v1beta` (googleapis
/// `google/ai/generativelanguage/v1beta/content.proto`, `safety.proto`, `generative_service.proto`; as published
/// in generated bindings such as github.com/rudebono/elixir-googleapis-protobuf
/// `lib/google/ai/generativelanguage/v1beta/*.pb.ex`). Every table below is dense: the name of number `n` is
/// `names[n]`.
public struct GeminiEnum: Sendable {
  /// The proto enum's name, for messages (`Type`, `FunctionCallingConfig.Mode`).
  public let name: String
  /// Value names by number.
  public let names: [String]

  /// Creates a table.
  public init(_ name: String, _ names: [String]) {
    self.name = name
    self.names = names
  }

  /// The name of `number`, or nil when the enum has no such value.
  public func name(of number: Int64) -> String? {
    guard number >= 0, number < Int64(names.count) else { return nil }
    return names[Int(number)]
  }

  /// The number of `name` (case-insensitive), or nil when the enum has no such value.
  public func number(of name: String) -> Int64? {
    let upper = name.uppercased()
    return names.firstIndex(of: upper).map { Int64($0) }
  }

  /// Why an enum value could not be read (the caller prefixes the field's path).
  public enum DecodeFailure: Error, Sendable, Equatable {
    /// Neither a string nor an integer.
    case notAnEnum
    /// An integer the enum has no value for.
    case unknownNumber(Int64)

    /// The explanation that follows a field's name in a 400 message.
    public func message(_ table: GeminiEnum) -> String {
      switch self {
      case .notAnEnum: "must be a \(table.name) name or number"
      case .unknownNumber(let number): "has no \(table.name) value numbered \(number)"
      }
    }
  }

  /// The one decoding rule for enum fields: a name (any case; returned uppercased, and kept even when this table
  /// does not know it, since Google adds values and each field decides what an unknown name means) or a protobuf
  /// number (integral floats included), which must be one of the table's.
  public func decode(_ value: JSONValue) -> Result<String, DecodeFailure> {
    if case .string(let text) = value {
      // Clients send the names uppercased already; `uppercased()` would build a new string for each.
      var text = text
      let isUpper = text.withUTF8 { bytes in
        bytes.allSatisfy { $0 < 0x80 && !($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }
      }
      return .success(isUpper ? text : text.uppercased())
    }
    // Anything non-integral or out of Int64 is not an enum number (never trapped on).
    guard let number = value.intValue else { return .failure(.notAnEnum) }
    guard let name = name(of: number) else { return .failure(.unknownNumber(number)) }
    return .success(name)
  }

  /// The value as the client asked: the name, or its number for `enum-encoding=int` (a name this table does not
  /// know stays a name).
  public func encode(_ name: String, asNumber: Bool) -> JSONValue {
    if asNumber, let number = number(of: name) { return .int(number) }
    return .string(name)
  }

  /// `Type` (Schema.type).
  public static let type = GeminiEnum(
    "Type", ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"])
  /// `FunctionCallingConfig.Mode`.
  public static let functionCallingMode = GeminiEnum(
    "FunctionCallingConfig.Mode", ["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"])
  /// `FunctionDeclaration.Behavior`.
  public static let behavior = GeminiEnum("FunctionDeclaration.Behavior", ["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"])
  /// `FunctionResponse.Scheduling`.
  public static let scheduling = GeminiEnum(
    "FunctionResponse.Scheduling", ["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"])
  /// `ExecutableCode.Language`.
  public static let language = GeminiEnum("ExecutableCode.Language", ["LANGUAGE_UNSPECIFIED", "PYTHON"])
  /// `CodeExecutionResult.Outcome`.
  public static let outcome = GeminiEnum(
    "CodeExecutionResult.Outcome",
    ["OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"])
  /// `HarmCategory`.
  public static let harmCategory = GeminiEnum(
    "HarmCategory",
    [
      "HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY", "HARM_CATEGORY_VIOLENCE",
      "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL", "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT",
      "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
      "HARM_CATEGORY_CIVIC_INTEGRITY",
    ])
  /// `SafetySetting.HarmBlockThreshold`.
  public static let harmBlockThreshold = GeminiEnum(
    "SafetySetting.HarmBlockThreshold",
    [
      "HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH",
      "BLOCK_NONE", "OFF",
    ])
  /// `SafetyRating.HarmProbability`.
  public static let harmProbability = GeminiEnum(
    "SafetyRating.HarmProbability", ["HARM_PROBABILITY_UNSPECIFIED", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH"])
  /// `GenerationConfig.Modality` (`responseModalities`; not the same numbers as ``modality``).
  public static let responseModality = GeminiEnum(
    "GenerationConfig.Modality", ["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"])
  /// `Modality` (`usageMetadata.*TokensDetails[].modality`).
  public static let modality = GeminiEnum(
    "Modality", ["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT"])
  /// `GenerationConfig.MediaResolution` (also `Part.mediaResolution`).
  public static let mediaResolution = GeminiEnum(
    "MediaResolution",
    ["MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"])
  /// `TaskType` (embeddings).
  public static let taskType = GeminiEnum(
    "TaskType",
    [
      "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
      "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
    ])
  /// `Candidate.FinishReason`.
  public static let finishReason = GeminiEnum(
    "Candidate.FinishReason",
    [
      "FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER", "LANGUAGE", "BLOCKLIST",
      "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY",
    ])
  /// `GenerateContentResponse.PromptFeedback.BlockReason`.
  public static let blockReason = GeminiEnum(
    "PromptFeedback.BlockReason",
    ["BLOCK_REASON_UNSPECIFIED", "SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY"])
}

extension FieldReader {
  /// An enum field, by the one rule of ``GeminiEnum/decode(_:)``.
  mutating func enumValue(_ name: String, _ table: GeminiEnum) throws(GeminiRequestError) -> String? {
    guard let value = value(name) else { return nil }
    return try table.decode(value).mapError { failure(name, $0, table) }.get()
  }

  /// A repeated enum field (a single value counts as a one-element list).
  mutating func enumArray(_ name: String, _ table: GeminiEnum) throws(GeminiRequestError) -> [String]? {
    guard let elements = try array(name) else { return nil }
    var result: [String] = []
    for element in elements {
      result.append(try table.decode(element).mapError { failure(name, $0, table) }.get())
    }
    return result
  }

  func failure(_ name: String, _ reason: GeminiEnum.DecodeFailure, _ table: GeminiEnum) -> GeminiRequestError {
    failure(name, reason.message(table))
  }
}

/// What the client's `alt` (or `$alt`) query parameter asks of the answer: `alt=sse`, `alt=json`, or the legacy
/// SDK's `$alt=json;enum-encoding=int`.
public struct GeminiAlt: Sendable, Equatable {
  /// Server-sent events (`sse`) rather than JSON.
  public var sse: Bool
  /// Enums in the answer as protobuf numbers (`enum-encoding=int`).
  public var integerEnums: Bool

  /// Creates a value.
  public init(sse: Bool = false, integerEnums: Bool = false) {
    self.sse = sse
    self.integerEnums = integerEnums
  }

  /// Reads `alt` or `$alt` from a raw query string; absent or unknown means JSON with enum names.
  public static func parse(query: String?) -> GeminiAlt {
    // Python's requests percent-encodes the legacy SDK's `$alt` name as `%24alt`.
    let names = ["alt", "$alt", "%24alt"]
    guard let value = names.lazy.compactMap({ QueryString.value($0, in: query) }).first else { return GeminiAlt() }
    let options = value.lowercased().split(separator: ";").map { String($0).trimmingWhitespace() }
    return GeminiAlt(sse: options.first == "sse", integerEnums: options.dropFirst().contains("enum-encoding=int"))
  }
}

extension GeminiEnum {
  /// A `GenerateContentResponse` with its enums as protobuf numbers, as Google answers `enum-encoding=int`:
  /// `finishReason`, safety ratings, `promptFeedback.blockReason`, token-detail modalities, code parts.
  public static func numbered(response: JSONValue) -> JSONValue {
    response.mapping { path, key, value in
      let table: GeminiEnum? =
        switch (path.last, key) {
        case ("candidates", "finishReason"): .finishReason
        case ("safetyRatings", "category"): .harmCategory
        case ("safetyRatings", "probability"): .harmProbability
        case ("promptFeedback", "blockReason"): .blockReason
        case (_, "modality") where path.last?.hasSuffix("TokensDetails") == true: .modality
        case ("executableCode", "language"): .language
        case ("codeExecutionResult", "outcome"): .outcome
        default: nil
        }
      guard let table, case .string(let name) = value else { return value }
      return table.encode(name, asNumber: true)
    }
  }
}

extension JSONValue {
  /// Rebuilds the value, passing every object member through `transform(path, key, value)`, where `path` lists
  /// the keys of the enclosing members (array elements keep their array's key). Children are transformed first.
  func mapping(_ transform: ([String], String, JSONValue) -> JSONValue, path: [String] = []) -> JSONValue {
    switch self {
    case .object(let members):
      return .object(
        members.map { member in
          let child = member.value.mapping(transform, path: path + [member.key])
          return JSONMember(member.key, transform(path, member.key, child))
        })
    case .array(let elements):
      return .array(elements.map { $0.mapping(transform, path: path) })
    default:
      return self
    }
  }
}
