module clustermix

go 1.24

require github.com/stratahq/strata/sdk/go v0.0.0

replace github.com/stratahq/strata/sdk/go => ./.strata/sdk
