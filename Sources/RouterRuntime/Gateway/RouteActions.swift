public import RouteCompiler
public import RouteSpec

/// Applies a route's actions (system prompt, generation clamps and defaults) to Gemini request JSON.
///
/// Both modes use these functions: translation mode on the whole request tree, passthrough mode
/// only on the members they change, so that every other byte of the client's request survives.
public enum RouteActions {
  /// The JSON names a Gemini request may spell the system instruction with.
  public static let systemInstructionKeys = ["systemInstruction", "system_instruction"]
  /// The JSON names a Gemini request may spell the generation config with.
  public static let generationConfigKeys = ["generationConfig", "generation_config"]

  /// The new `systemInstruction` value after `action`, given the request's current one.
  public static func systemInstruction(_ existing: JSONValue?, action: SystemPromptAction) -> JSONValue {
    let injected = JSONValue.object(["text": .string(action.text)])
    var parts: [JSONValue] = []
    if case .replace = action {
      parts = [injected]
    } else {
      var current: [JSONValue] = []
      if let existing {
        switch existing["parts"] {
        case .array(let values)?: current = values
        case .object?: current = [existing["parts"] ?? .null]
        default: current = []
        }
        if current.isEmpty, let text = existing.stringValue { current = [.object(["text": .string(text)])] }
      }
      if case .prepend = action { parts = [injected] + current } else { parts = current + [injected] }
    }
    var members: [JSONMember] = []
    if let role = existing?["role"] { members.append(JSONMember("role", role)) }
    members.append(JSONMember("parts", .array(parts)))
    return .object(members)
  }

  /// The Gemini spellings of a parameter in `generationConfig`: camelCase first (what an insert uses).
  public static func geminiNames(_ parameter: GenerationParameter) -> [String]? {
    [parameter.geminiField, parameter.rawValue]
  }

  /// The new `generationConfig` after clamps and defaults; nil when the rules change nothing.
  ///
  /// `names` gives the member names a parameter may have in `existing` (the first is inserted), or nil
  /// when the dialect has no such parameter: the OpenAI front clamps the top level of a chat request with
  /// the same rules.
  public static func generationConfig(
    _ existing: JSONValue?, rules: [GenerationRule], names: (GenerationParameter) -> [String]? = geminiNames
  ) -> JSONValue? {
    guard !rules.isEmpty else { return nil }
    var members = existing?.objectValue ?? []
    var changed = false
    for rule in rules {
      guard let keys = names(rule.parameter), let inserted = keys.first else { continue }
      let position = members.firstIndex { keys.contains($0.key) }
      var value = position.flatMap { members[$0].value.doubleValue }
      if value == nil { value = rule.rule.defaultValue }
      guard var number = value else { continue }
      if let low = rule.rule.min { number = Swift.max(number, low) }
      if let high = rule.rule.max { number = Swift.min(number, high) }
      // The client's number may be beyond any integer: saturate rather than trap.
      let whole = number.rounded(.down)
      let integer: Int64 =
        whole >= 9.223_372_036_854_775_807e18 ? .max : whole <= -9.223_372_036_854_775_808e18 ? .min : Int64(whole)
      let json: JSONValue = rule.parameter.isInteger ? .int(integer) : .double(number)
      if let position {
        if members[position].value != json {
          members[position].value = json
          changed = true
        }
      } else {
        members.append(JSONMember(inserted, json))
        changed = true
      }
    }
    return changed ? .object(members) : nil
  }

  /// The new `messages` of an OpenAI chat request after `action`: the injected text is a `system` message
  /// before the first message (`prepend`), after the leading system and developer messages (`append`), or
  /// the only one (`replace`).
  public static func systemMessages(_ existing: JSONValue?, action: SystemPromptAction) -> JSONValue {
    let injected = JSONValue.object(["role": "system", "content": .string(action.text)])
    let messages = existing?.arrayValue ?? []
    func isSystem(_ message: JSONValue) -> Bool {
      let role = message["role"]?.stringValue
      return role == "system" || role == "developer"
    }
    switch action {
    case .prepend: return .array([injected] + messages)
    case .append:
      let leading = messages.prefix(while: isSystem).count
      return .array(Array(messages[..<leading]) + [injected] + Array(messages[leading...]))
    case .replace: return .array([injected] + messages.filter { !isSystem($0) })
    }
  }

  /// The whole request with the actions of `plan` applied (translation mode).
  public static func apply(_ plan: ForwardPlan, to request: JSONValue) -> JSONValue {
    // Most routes have no actions: the request as it is, without taking its members apart and looking for a
    // generation config no rule would change (which compared every top-level name with two others).
    guard plan.systemPrompt != nil || !plan.generation.isEmpty else { return request }
    guard case .object(var members) = request else { return request }
    if let action = plan.systemPrompt {
      let position = members.firstIndex { systemInstructionKeys.contains($0.key) }
      let updated = systemInstruction(position.map { members[$0].value }, action: action)
      if let position {
        members[position].value = updated
      } else {
        members.append(JSONMember("systemInstruction", updated))
      }
    }
    let position = members.firstIndex { generationConfigKeys.contains($0.key) }
    if let updated = generationConfig(position.map { members[$0].value }, rules: plan.generation) {
      if let position {
        members[position].value = updated
      } else {
        members.append(JSONMember("generationConfig", updated))
      }
    }
    return .object(members)
  }
}
