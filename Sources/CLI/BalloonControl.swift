protocol BalloonControl: AnyObject { func setTarget(mebibytes: Int) throws; var statusFields: [(String, Int64)] { get } }
