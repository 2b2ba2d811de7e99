import RouterRuntime

print("louter \(LouterVersion.current)")
