# A deliberately broken script: pscheck must reject it (tools/pscheck/run.sh asserts that).
function Broken {
    $x = @{ 'a' = 1
    if ($x -eq {
}
