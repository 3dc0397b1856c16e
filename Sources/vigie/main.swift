print("vigie: not built yet")
