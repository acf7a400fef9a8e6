2
ct.name<NA>2
ct.responsenot jsonJaws_cloudtrail