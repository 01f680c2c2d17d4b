# expect: .ForEach() is PowerShell 4.0
$l = @(1, 2)
$l.ForEach({ $_ * 2 })
