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

  /// The new `generationConfig` after clamps and defaults; nil when the rules change nothing.
  public static func generationConfig(_ existing: JSONValue?, rules: [GenerationRule]) -> JSONValue? {
    guard !rules.isEmpty else { return nil }
    var members = existing?.objectValue ?? []
    var changed = false
    for rule in rules {
      let camel = rule.parameter.geminiField
      let snake = rule.parameter.rawValue
      let position = members.firstIndex { $0.key == camel || $0.key == snake }
      var value = position.flatMap { members[$0].value.doubleValue }
      if value == nil { value = rule.rule.defaultValue }
      guard var number = value else { continue }
      if let low = rule.rule.min { number = Swift.max(number, low) }
      if let high = rule.rule.max { number = Swift.min(number, high) }
      let json: JSONValue = rule.parameter.isInteger ? .int(Int64(number.rounded(.down))) : .double(number)
      if let position {
        if members[position].value != json {
          members[position].value = json
          changed = true
        }
      } else {
        members.append(JSONMember(camel, json))
        changed = true
      }
    }
    return changed ? .object(members) : nil
  }

  /// The whole request with the actions of `plan` applied (translation mode).
  public static func apply(_ plan: ForwardPlan, to request: JSONValue) -> JSONValue {
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
