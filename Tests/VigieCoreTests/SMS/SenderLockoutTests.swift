import Foundation
import Testing
import VigieCore

@Suite("sender lockout")
struct SenderLockoutTests {
  let alice = "+33612345678"
  let bob = "+33698765432"

  @Test("three failures within 15 minutes lock the sender out for 15 minutes")
  func firstLockout() {
    var lockout = SenderLockout()
    #expect(lockout.status(of: alice, at: 0) == .allowed(remainingAttempts: 3))
    #expect(lockout.recordFailure(of: alice, at: 0) == .allowed(remainingAttempts: 2))
    #expect(lockout.recordFailure(of: alice, at: 100) == .allowed(remainingAttempts: 1))
    #expect(lockout.recordFailure(of: alice, at: 200) == .locked(until: 200 + 900))
    #expect(lockout.status(of: alice, at: 1099).isLocked)
    #expect(lockout.status(of: alice, at: 1100) == .allowed(remainingAttempts: 3))
    // Others are not affected.
    #expect(lockout.status(of: bob, at: 500) == .allowed(remainingAttempts: 3))
  }

  @Test("failures older than the window do not count")
  func window() {
    var lockout = SenderLockout()
    lockout.recordFailure(of: alice, at: 0)
    lockout.recordFailure(of: alice, at: 600)
    #expect(lockout.status(of: alice, at: 899) == .allowed(remainingAttempts: 1))
    #expect(lockout.status(of: alice, at: 900) == .allowed(remainingAttempts: 2))
    #expect(lockout.recordFailure(of: alice, at: 1000) == .allowed(remainingAttempts: 1))
    #expect(lockout.recordFailure(of: alice, at: 1100).isLocked)
  }

  @Test("attempts while locked out change nothing")
  func whileLocked() {
    var lockout = SenderLockout()
    for t in [0, 1, 2] as [Int64] { lockout.recordFailure(of: alice, at: t) }
    let before = lockout
    #expect(lockout.recordFailure(of: alice, at: 500) == .locked(until: 902))
    #expect(lockout == before)
  }

  @Test("each lockout doubles, up to 24 hours")
  func doubling() {
    let policy = SenderLockout.Policy()
    let expected: [Int64] = [900, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400, 86400]
    #expect((1...10).map { policy.lockoutDuration(count: $0).components.seconds } == expected)
    #expect(policy.lockoutDuration(count: Int.max) == .seconds(86400))
    #expect(policy.lockoutDuration(count: 0) == .seconds(900))

    var lockout = SenderLockout()
    var now: Int64 = 0
    for duration in expected {
      lockout.recordFailure(of: alice, at: now)
      lockout.recordFailure(of: alice, at: now + 1)
      #expect(lockout.recordFailure(of: alice, at: now + 2) == .locked(until: now + 2 + duration))
      now += 2 + duration
    }
  }

  @Test("a success forgets failures and the doubling")
  func success() {
    var lockout = SenderLockout()
    for round in 0..<2 {
      let start = Int64(round) * 10_000
      for t in 0..<3 { lockout.recordFailure(of: alice, at: start + Int64(t)) }
    }
    #expect(lockout.records[alice]?.lockouts == 2)
    lockout.recordSuccess(of: alice)
    #expect(lockout.status(of: alice, at: 30_000) == .allowed(remainingAttempts: 3))
    lockout.recordFailure(of: alice, at: 30_000)
    lockout.recordSuccess(of: alice)
    #expect(lockout.status(of: alice, at: 30_001) == .allowed(remainingAttempts: 3))
    for t in 0..<3 { lockout.recordFailure(of: alice, at: 40_000 + Int64(t)) }
    #expect(lockout.status(of: alice, at: 40_002) == .locked(until: 40_002 + 900))
  }

  @Test("a clock set back keeps failures and lockouts in force")
  func clockSetBack() {
    var lockout = SenderLockout()
    lockout.recordFailure(of: alice, at: 10_000)
    lockout.recordFailure(of: alice, at: 10_001)
    #expect(lockout.status(of: alice, at: 0) == .allowed(remainingAttempts: 1))
    #expect(lockout.recordFailure(of: alice, at: 5).isLocked)
    // Extreme times do not trap.
    var extreme = SenderLockout()
    for t in [Int64.max, Int64.min, Int64.max, Int64.max - 1, 0] {
      extreme.recordFailure(of: bob, at: t)
    }
    _ = extreme.status(of: bob, at: Int64.min)
    extreme.prune(at: Int64.min)
    extreme.prune(at: Int64.max)
  }

  @Test("custom policy, clamped")
  func customPolicy() {
    let policy = SenderLockout.Policy(
      maxFailures: 0, window: .seconds(-5), lockout: .zero, maxLockout: .zero)
    #expect(policy.maxFailures == 1)
    #expect(policy.window == .seconds(1))
    #expect(policy.lockout == .seconds(1))
    #expect(policy.maxLockout == .seconds(1))
    var lockout = SenderLockout(policy: SenderLockout.Policy(maxFailures: 5, lockout: .seconds(60)))
    for t in 0..<4 { #expect(!lockout.recordFailure(of: alice, at: Int64(t)).isLocked) }
    #expect(lockout.recordFailure(of: alice, at: 4) == .locked(until: 64))
  }

  @Test("pruning forgets what no longer matters")
  func prune() {
    var lockout = SenderLockout()
    lockout.recordFailure(of: alice, at: 0)
    for t in 0..<3 { lockout.recordFailure(of: bob, at: Int64(t)) }
    lockout.prune(at: 100)
    #expect(lockout.records.count == 2)
    lockout.prune(at: 10_000)
    // Alice's failure expired; Bob keeps his lockout history (the doubling).
    #expect(lockout.records[alice] == nil)
    #expect(lockout.records[bob]?.lockouts == 1)
  }

  @Test("the state survives a JSON round trip")
  func codable() throws {
    var lockout = SenderLockout()
    for t in 0..<3 { lockout.recordFailure(of: alice, at: Int64(t)) }
    lockout.recordFailure(of: bob, at: 5)
    let data = try JSONEncoder().encode(lockout)
    let restored = try JSONDecoder().decode(SenderLockout.self, from: data)
    #expect(restored == lockout)
    #expect(restored.status(of: alice, at: 10) == .locked(until: 902))
    #expect(restored.status(of: bob, at: 10) == .allowed(remainingAttempts: 2))

    let replayGuard = TOTPReplayGuard(lastAcceptedStep: 42)
    let guardData = try JSONEncoder().encode(replayGuard)
    #expect(try JSONDecoder().decode(TOTPReplayGuard.self, from: guardData) == replayGuard)
  }
}
