print("vigie-test-helper")
