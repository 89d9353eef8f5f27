package com.limepoint.opschain.dbupgrade.model;

import java.time.DateTimeException;
import java.time.LocalDate;
import java.util.regex.Pattern;

/**
 * An OpsChain release version: a release date, {@code YYYY-MM-DD}, with an optional suffix. The
 * runbook's upgrade is needed only when coming from a release before {@link #CNPG_FIRST_RELEASE}.
 */
public record OpsChainVersion(LocalDate date, String suffix)
    implements Comparable<OpsChainVersion> {

  public static final String CNPG_FIRST_RELEASE = "2026-01-27";
  private static final LocalDate CNPG_DATE = LocalDate.parse(CNPG_FIRST_RELEASE);
  private static final Pattern FORMAT =
      Pattern.compile("v?([0-9]{4}-[0-9]{2}-[0-9]{2})([-.+][0-9A-Za-z.+-]{1,64})?");

  public static boolean isValid(String text) {
    if (text == null || !FORMAT.matcher(text).matches()) {
      return false;
    }
    try {
      parse(text);
      return true;
    } catch (DateTimeException e) {
      return false;
    }
  }

  public static OpsChainVersion parse(String text) {
    var m = FORMAT.matcher(text == null ? "" : text);
    if (!m.matches()) {
      throw new IllegalArgumentException("not an OpsChain version: " + text);
    }
    return new OpsChainVersion(LocalDate.parse(m.group(1)), m.group(2) == null ? "" : m.group(2));
  }

  /** True from 2026-01-27 on: this release already runs its database on CloudNativePG. */
  public boolean isCnpgRelease() {
    return !date.isBefore(CNPG_DATE);
  }

  @Override
  public int compareTo(OpsChainVersion o) {
    int c = date.compareTo(o.date);
    return c != 0 ? c : suffix.compareTo(o.suffix);
  }
}
