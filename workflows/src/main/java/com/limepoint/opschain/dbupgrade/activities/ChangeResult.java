package com.limepoint.opschain.dbupgrade.activities;

/**
 * The result of a mutating activity.
 *
 * @param changed false when the state was already as asked (a retry, a second call) or in dry run
 * @param summary one line for the status and history: what was done, or what would be done
 */
public record ChangeResult(boolean changed, String summary) {
  public static ChangeResult changed(String summary) {
    return new ChangeResult(true, summary);
  }

  public static ChangeResult unchanged(String summary) {
    return new ChangeResult(false, summary);
  }
}
