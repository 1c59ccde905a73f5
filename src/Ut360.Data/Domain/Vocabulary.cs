namespace Ut360.Data.Domain;

/// The closed value sets of the design's CHECK constraints and its comments.
public static class Vocabulary
{
    public static readonly string[] SubscriberTypes = ["PRE", "POS"];
    public static readonly string[] ServiceTypes = ["EasyCredit", "MBFG", "ungsanluong"];
    public static readonly string[] RiskLevels = ["LOW", "MEDIUM", "HIGH"];
    public static readonly string[] Trends = ["Tăng trưởng", "Ổn định", "Giảm"];
    public static readonly string[] UserTypes = ["Heavy Data User", "Voice/SMS User", "Balanced"];
    public static readonly string[] TopupFrequencyClasses = ["Cao", "Trung bình", "Thấp"];
    public static readonly string[] Priorities = ["HIGH", "MEDIUM", "LOW"];

    public static bool IsServiceType(string? value) => value is not null && Array.IndexOf(ServiceTypes, value) >= 0;
    public static bool IsRiskLevel(string? value) => value is not null && Array.IndexOf(RiskLevels, value) >= 0;
    public static bool IsSubscriberType(string? value) => value is not null && Array.IndexOf(SubscriberTypes, value) >= 0;
}
